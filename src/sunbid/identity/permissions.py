"""Permissions of the identity feature, declared as data (role + scope), checked by ``domain.decide``."""

from __future__ import annotations

from sunbid.identity.domain import Permission, Role, Scope

_CENTRE_STAFF = frozenset({Role.ADMIN, Role.OPERATOR})

ORG_MANAGE = Permission("identity.org.manage", _CENTRE_STAFF, Scope.OWN_ORG, "登记和管理机构（交易中心工作人员）")
USER_MANAGE = Permission("identity.user.manage", _CENTRE_STAFF, Scope.OWN_ORG, "创建用户并授予角色（交易中心工作人员）")
CERT_MANAGE = Permission("identity.cert.manage", _CENTRE_STAFF, Scope.OWN_ORG, "签发和吊销数字证书（交易中心工作人员）")
ORG_READ_OWN = Permission(
    "identity.org.read_own", frozenset(Role) - {Role.PUBLIC}, Scope.OWN_ORG, "查看本机构信息和证书"
)
TOKEN_MANAGE = Permission(
    "identity.token.manage", frozenset(Role) - {Role.PUBLIC}, Scope.ANY_AUTHENTICATED, "管理自己的访问令牌"
)
