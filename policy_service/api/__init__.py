"""The REST API: Flask views, request and response schemas, problem documents."""
