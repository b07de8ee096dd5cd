"""``sunbid admin …`` and ``sunbid cert …``: centre, organisations, users, tokens and certificates."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import typer
from sqlalchemy import select

from sunbid.identity import certs, service
from sunbid.identity.models import Certificate, Organisation
from sunbid.platform.clikit import JsonOpt, console, emit_json, fail, handle_errors, make_platform, table
from sunbid.platform.context import RequestContext

admin_app = typer.Typer(help="管理：交易中心、机构、用户、令牌 / administration", no_args_is_help=True)
cert_app = typer.Typer(help="数字证书（CA锁）：签发、导出、吊销、签名登录 / certificates", no_args_is_help=True)


def _org_dict(org: Organisation) -> dict[str, object]:
    return {
        "id": org.id,
        "name": org.name,
        "uscc": org.uscc,
        "kind": org.kind,
        "region_code": org.region_code,
        "sectors": org.sectors,
        "status": org.status,
    }


@admin_app.command("create-centre")
@handle_errors
def create_centre(
    name: str = typer.Option(..., help="交易中心名称 / centre name"),
    uscc: str = typer.Option(..., help="统一社会信用代码 / unified social credit code"),
    region: str = typer.Option(..., help="行政区划代码 / region code, e.g. 341700"),
    as_json: bool = JsonOpt,
) -> None:
    """创建本部署的交易中心 / create this deployment's trading centre."""
    platform = make_platform()
    with platform.uow(RequestContext.cli()) as uow:
        centre = service.create_centre(uow, name=name, uscc=uscc, region_code=region)
        org = uow.session.get(Organisation, centre.org_id)
        assert org is not None
        uow.commit()
    data = {"centre_id": centre.id, **_org_dict(org)}
    emit_json(data) if as_json else console.print(f"已创建交易中心 created centre: {name} (id {centre.id})")


@admin_app.command("create-org")
@handle_errors
def create_org(
    name: str = typer.Option(..., help="机构名称 / name"),
    uscc: str = typer.Option(..., help="统一社会信用代码 / credit code"),
    kind: str = typer.Option(..., help="tenderer|agency|bidder|regulator|notary|centre"),
    region: str = typer.Option(..., help="行政区划代码 / region code"),
    sector: list[str] = typer.Option([], help="行业，可多次 / sector (repeatable)"),
    as_json: bool = JsonOpt,
) -> None:
    """登记机构 / register an organisation."""
    platform = make_platform()
    with platform.uow(RequestContext.cli()) as uow:
        org = service.create_organisation(uow, name=name, uscc=uscc, kind=kind, region_code=region, sectors=sector)
        uow.commit()
    emit_json(_org_dict(org)) if as_json else console.print(f"已登记机构 registered: {org.name} (id {org.id})")


@admin_app.command("create-user")
@handle_errors
def create_user(
    username: str = typer.Option(..., help="用户名 / username"),
    name: str = typer.Option(..., "--name", help="姓名 / display name"),
    org: str = typer.Option(None, help="所属机构的统一社会信用代码 / organisation credit code"),
    role: list[str] = typer.Option([], help="角色，可多次 / role in that organisation (repeatable)"),
    password_env: str = typer.Option(
        None, help="从该环境变量读取密码（不在命令行明文出现）/ read the password from this env variable"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """创建用户并授予角色 / create a user and grant roles."""
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            fail(
                "cli.password_missing",
                f"环境变量 {password_env} 未设置。",
                f"{password_env} is not set.",
                as_json=as_json,
            )
    elif not as_json:
        password = typer.prompt("密码 password", hide_input=True, confirmation_prompt=True)
    platform = make_platform()
    with platform.uow(RequestContext.cli()) as uow:
        user = service.create_user(uow, username=username, display_name=name, password=password)
        if role:
            if not org:
                fail(
                    "cli.org_required",
                    "授予角色须指定 --org。",
                    "--org is required with --role.",
                    as_json=as_json,
                )
            o = service.get_org_by_uscc(uow.session, org)
            for r in role:
                service.add_membership(uow, user=user, org=o, role=r)
        uow.commit()
    data = {"id": user.id, "username": user.username, "roles": role}
    emit_json(data) if as_json else console.print(f"已创建用户 created user {user.username} (id {user.id})")


@admin_app.command("create-token")
@handle_errors
def create_token(
    username: str = typer.Option(..., help="用户名 / username"),
    name: str = typer.Option("cli", help="令牌名称 / token name"),
    days: int = typer.Option(90, help="有效天数 / days valid"),
    as_json: bool = JsonOpt,
) -> None:
    """为用户创建访问令牌（只显示一次）/ create an API token (shown once)."""
    platform = make_platform()
    with platform.uow(RequestContext.cli()) as uow:
        user = service.get_user(uow.session, username)
        issued = service.create_api_token(uow, user, name, days)
        uow.commit()
    data = {"id": issued.id, "token": issued.raw, "expires_at": issued.expires_at}
    emit_json(data) if as_json else console.print(f"令牌 token (仅显示一次 shown once): {issued.raw}")


def _password(password_env: str | None, as_json: bool) -> str:
    if password_env:
        value = os.environ.get(password_env)
        if not value:
            fail(
                "cli.password_missing",
                f"环境变量 {password_env} 未设置。",
                f"{password_env} is not set.",
                as_json=as_json,
            )
        assert value is not None
        return value
    value = typer.prompt("证书包口令 bundle password", hide_input=True, confirmation_prompt=True)
    return str(value)


def _cert_dict(c: Certificate) -> dict[str, object]:
    return {
        "serial": c.serial,
        "org_id": c.org_id,
        "usage": c.usage,
        "suite": c.suite,
        "status": c.status,
        "fingerprint": c.fingerprint,
        "not_before": c.not_before.isoformat(),
        "not_after": c.not_after.isoformat(),
    }


@cert_app.command("issue")
@handle_errors
def issue(
    org: str = typer.Option(..., help="机构统一社会信用代码 / organisation credit code"),
    out: Path = typer.Option(..., help="证书包输出文件 / bundle file to write"),
    password_env: str = typer.Option(None, help="从该环境变量读取证书包口令 / env variable holding the password"),
    days: int = typer.Option(730, help="有效天数 / days valid"),
    as_json: bool = JsonOpt,
) -> None:
    """在本机生成密钥对，签发签名和加密证书，写入证书包 / make keys here, certify, write a bundle."""
    from sunbid.crypto.certificates import export_bundle

    if out.exists():
        fail("cli.file_exists", f"文件已存在：{out}", f"File exists: {out}", as_json=as_json)
    password = _password(password_env, as_json)
    platform = make_platform()
    suite = platform.suite
    sign_kp = suite.generate_signing_keypair()
    enc_kp = suite.generate_encryption_keypair()
    with platform.uow(RequestContext.cli()) as uow:
        o = service.get_org_by_uscc(uow.session, org)
        sign_cert, enc_cert = certs.issue_certificates(uow, o.id, sign_kp.public, enc_kp.public, validity_days=days)
        bundle = export_bundle(
            suite,
            password=password,
            signing_private=sign_kp.private,
            signing_cert_pem=sign_cert.pem,
            encryption_private=enc_kp.private,
            encryption_cert_pem=enc_cert.pem,
            ca_cert_pem=platform.ca().certificate_pem,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(bundle)
        uow.commit()
    data = {"bundle": str(out), "certificates": [_cert_dict(sign_cert), _cert_dict(enc_cert)]}
    if as_json:
        emit_json(data)
    else:
        console.print(f"已签发 issued {sign_cert.serial} (签名 signing), {enc_cert.serial} (加密 encryption) → {out}")


@cert_app.command("export")
@handle_errors
def export(
    serial: str = typer.Option(None, help="证书序列号；不填则导出 CA 证书 / serial; default: the CA certificate"),
    out: Path = typer.Option(None, help="输出文件，默认标准输出 / output file (default stdout)"),
    as_json: bool = JsonOpt,
) -> None:
    """导出证书（PEM）/ export a certificate (PEM)."""
    platform = make_platform()
    if serial is None:
        pem, meta = platform.ca().certificate_pem, {"serial": "ca", "suite": platform.suite.name}
    else:
        with platform.uow(RequestContext.cli()) as uow:
            c = certs.get_certificate(uow, serial)
            pem, meta = c.pem, _cert_dict(c)
    if out is not None:
        out.write_text(pem)
    if as_json:
        emit_json({**meta, "pem": pem, "file": None if out is None else str(out)})
    elif out is None:
        typer.echo(pem)


@cert_app.command("revoke")
@handle_errors
def revoke(
    serial: str = typer.Argument(..., help="证书序列号 / serial"),
    reason: str = typer.Option(..., help="吊销原因 / reason"),
    as_json: bool = JsonOpt,
) -> None:
    """吊销证书 / revoke a certificate."""
    platform = make_platform()
    with platform.uow(RequestContext.cli()) as uow:
        c = certs.revoke_certificate(uow, serial, reason)
        uow.commit()
    emit_json(_cert_dict(c)) if as_json else console.print(f"已吊销 revoked {c.serial}")


@cert_app.command("list")
@handle_errors
def list_certs(
    org: str = typer.Option(None, help="机构统一社会信用代码 / organisation credit code"),
    as_json: bool = JsonOpt,
) -> None:
    """列出证书 / list certificates."""
    platform = make_platform()
    with platform.db.read() as s:
        q = select(Certificate).order_by(Certificate.id)
        if org:
            q = q.where(Certificate.org_id == service.get_org_by_uscc(s, org).id)
        rows = [_cert_dict(c) for c in s.scalars(q)]
    if as_json:
        emit_json(rows)
    else:
        table(
            "证书 Certificates",
            ["serial", "org", "usage", "status", "not_after"],
            [[r["serial"], r["org_id"], r["usage"], r["status"], r["not_after"]] for r in rows],
        )


@cert_app.command("sign-challenge")
@handle_errors
def sign_challenge(
    bundle: Path = typer.Option(..., help="证书包文件 / bundle file"),
    message: str = typer.Option(..., help="服务器给出的待签名文本 / the challenge message to sign"),
    password_env: str = typer.Option(None, help="证书包口令所在环境变量 / env variable holding the password"),
    as_json: bool = JsonOpt,
) -> None:
    """用证书包中的签名私钥签署登录挑战（投标工具用）/ sign a login challenge with the bundle's key."""
    from sunbid.crypto.certificates import import_bundle
    from sunbid.crypto.suite import get_suite

    password = (
        _password(password_env, as_json)
        if password_env
        else str(typer.prompt("证书包口令 bundle password", hide_input=True))
    )
    loaded = import_bundle(bundle.read_bytes(), password)
    suite = get_suite(loaded.suite)
    sig = suite.sign(loaded.signing_private, message.encode())
    data = {"signature_b64": base64.b64encode(sig).decode(), "certificate_pem": loaded.signing_cert_pem}
    emit_json(data) if as_json else typer.echo(data["signature_b64"])
