"""Admin views beside reload (scope `admin`): the shadow comparison in full, the capture.

The shadow comparison names, rule by rule, where a candidate policy would act
otherwise: what the policy editors are about to ship. Whoever may only read
(`read`: dashboards) sees how many decisions differ, in GET /v1/rulesets;
which ones, only with `admin`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from policy_service.api.views import bp, policy_json, services


@bp.get("/v1/admin/shadow")
def shadow_report() -> Response:
    """The candidate policy, its last reload and every difference from the live decisions."""
    svc = services()
    if svc.shadow is None or svc.shadow_policies is None:
        return jsonify({"enabled": False})
    return jsonify(
        {
            "enabled": True,
            **policy_json(svc.shadow_policies, svc.shadow_reloader),
            "comparison": svc.shadow.report(),
        }
    )


@bp.get("/v1/admin/capture")
def capture_status() -> Response:
    """Where decisions are captured and how many were written, dropped or failed."""
    capture = services().capture
    if capture is None:
        return jsonify({"enabled": False})
    body: dict[str, Any] = {
        "enabled": True,
        "stream": capture.stream,
        "maxlen": capture.maxlen,
        **capture.stats(),
    }
    return jsonify(body)
