"""Rule sets: load YAML rule files, validate them completely, compile them to engine data."""
