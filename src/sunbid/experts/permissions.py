"""Permissions of the expert feature, declared as data (role + scope), checked by ``identity.domain.decide``.

No permission returns a drawn expert's identity before evaluation starts: :data:`PANEL_UNSEAL` is further
bound by the service's time rule (``expert.panel_sealed``), whatever the role.
"""

from __future__ import annotations

from sunbid.identity.domain import Permission, Role, Scope

_CENTRE = frozenset({Role.ADMIN, Role.OPERATOR})

POOL_MANAGE = Permission("expert.pool.manage", _CENTRE, Scope.ANY_AUTHENTICATED, "管理评标专家库（交易中心工作人员）")
DRAW_RUN = Permission("expert.draw.run", _CENTRE, Scope.ANY_AUTHENTICATED, "登记并执行专家抽取（交易中心工作人员）")
DRAW_VIEW = Permission(
    "expert.draw.view",
    _CENTRE | {Role.REGULATOR, Role.AGENCY, Role.TENDERER},
    Scope.ANY_AUTHENTICATED,
    "查看抽取进度（不含专家身份）",
)
PANEL_UNSEAL = Permission(
    "expert.panel.unseal", _CENTRE | {Role.REGULATOR}, Scope.ANY_AUTHENTICATED, "评标开始后启封专家名单（留痕）"
)
