"""The composition root: builds every component of one deployment from its settings."""

from __future__ import annotations

import json
import logging
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sunbid.core.clock import Clock, SystemClock
from sunbid.core.errors import Unavailable
from sunbid.crypto.suite import CryptoSuite, KeyPair, get_suite
from sunbid.ledger.service import Ledger, LogKey
from sunbid.platform.context import RequestContext
from sunbid.platform.db import Database
from sunbid.platform.outbox import OutboxWorker
from sunbid.platform.secrets import SecretStore
from sunbid.platform.settings import Settings
from sunbid.platform.storage import LocalStorage, S3Storage, Storage
from sunbid.platform.uow import UnitOfWork

if TYPE_CHECKING:
    from sunbid.crypto.certificates import CertificateAuthority
    from sunbid.notifications.service import Notifier

log = logging.getLogger("sunbid.platform")

LOG_KEY = "log_signing.json"
CA_KEY = "ca.json"
SESSION_KEY = "session.key"


class Platform:
    """Settings, clock, database, storage, crypto, log and worker of one deployment."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, db: Database | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = db or Database(settings.resolved_database_url)
        self.secrets = SecretStore(settings.secrets_dir)
        self.suite: CryptoSuite = get_suite(settings.crypto_suite)
        self.worker = OutboxWorker(self.db, self.clock)
        self._ca_lock = threading.Lock()
        from sunbid.notifications.tasks import register_handlers as notification_handlers
        from sunbid.projects.tasks import register_handlers as project_handlers

        notification_handlers(self)  # notify.email, notify.sms
        project_handlers(self)  # project.timed, project.contract_reminder
        from sunbid.bidding.cleanup import expire_when_bidding_closes
        from sunbid.projects.service import register_transition_hook

        register_transition_hook(expire_when_bidding_closes)  # abandoned uploads expire when bidding closes
        from sunbid.bidding.tasks import register_handlers as bid_handlers

        bid_handlers(self)  # bid.complete: uploads made whole in time are completed even without the client
        from sunbid.opening.tasks import register_handlers as opening_handlers

        opening_handlers(self)  # opening keys and sessions (lifecycle hook), opening.close_window
        from sunbid.deposits.tasks import register_handlers as deposit_handlers

        deposit_handlers(self)  # deposit.settle, deposit.refund, refund hook, opening's deposit status
        from sunbid.experts.tasks import register_handlers as expert_handlers

        expert_handlers(self)  # expert.notify, expert.response_due
        from sunbid.experts.management_fees import register_handlers as expert_management_handlers

        expert_management_handlers(self)  # expert.fee_pay, expert.sanction_end, expert.sanction_notice

    # --- components --------------------------------------------------------------------------------------

    @cached_property
    def storage(self) -> Storage:
        if self.settings.storage == "s3":
            s3 = self.settings.s3
            return S3Storage(
                s3.bucket,
                endpoint_url=s3.endpoint_url,
                region=s3.region,
                access_key_id=s3.access_key_id,
                secret_access_key=s3.secret_access_key,
                prefix=s3.prefix,
            )
        return LocalStorage(self.settings.files_dir)

    def _keypair_secret(self, name: str) -> KeyPair:
        def make() -> bytes:
            kp = self.suite.generate_signing_keypair()
            return json.dumps(
                {"suite": self.suite.name, "private": kp.private.hex(), "public": kp.public.hex()}
            ).encode()

        raw = json.loads(self.secrets.get_or_create(name, make))
        if raw["suite"] != self.suite.name:
            raise Unavailable(
                "platform.suite_mismatch",
                f"密钥 {name} 是为密码套件 {raw['suite']} 生成的，而本部署使用 {self.suite.name}；"
                f"请将 SUNBID_CRYPTO_SUITE 设为 {raw['suite']}（部署后不能更换套件）",
                f"the secret {name} was made for the {raw['suite']} suite but this deployment uses {self.suite.name}; "
                f"set SUNBID_CRYPTO_SUITE={raw['suite']} (a deployment cannot change its suite)",
            )
        return KeyPair(private=bytes.fromhex(raw["private"]), public=bytes.fromhex(raw["public"]))

    @cached_property
    def log_keypair(self) -> KeyPair:
        return self._keypair_secret(LOG_KEY)

    @cached_property
    def ledger(self) -> Ledger:
        kp = self.log_keypair
        suite = self.suite
        key = LogKey(
            suite=suite.name,
            fingerprint=suite.public_key_fingerprint(kp.public),
            sign=lambda data: suite.sign(kp.private, data),
            verify=lambda data, sig: suite.verify(kp.public, data, sig),
        )
        log_id = f"sunbid:{self.settings.centre_region_code}:{key.fingerprint[:16]}"
        return Ledger(
            hash_fn=suite.digest,
            hash_name=suite.hash_name,
            key=key,
            log_id=log_id,
            now_ms=lambda: int(self.clock.now().timestamp() * 1000),
        )

    @cached_property
    def notifier(self) -> Notifier:
        """Notifications (in-app, e-mail, SMS); adapters chosen by ``settings.notifications``."""
        from sunbid.notifications.tasks import build_notifier

        return build_notifier(self)

    @cached_property
    def session_secret(self) -> bytes:
        import secrets

        return self.secrets.get_or_create(SESSION_KEY, lambda: secrets.token_bytes(32))

    def ca(self) -> CertificateAuthority:
        """The centre's CA; created (key in the secret store, 0600) on first use."""
        from sunbid.crypto.certificates import CertificateAuthority

        with self._ca_lock:
            if self.secrets.exists(CA_KEY):
                raw = json.loads(self.secrets.read(CA_KEY))
                return CertificateAuthority.load(self.suite, bytes.fromhex(raw["private"]), raw["certificate_pem"])
            ca = CertificateAuthority.create(
                self.suite,
                f"{self.settings.centre_name} CA",
                now=self.clock.now(),
                validity_days=3650,
            )
            self.secrets.write(
                CA_KEY,
                json.dumps({"private": ca.private_key_bytes().hex(), "certificate_pem": ca.certificate_pem}).encode(),
            )
            return ca

    # --- work --------------------------------------------------------------------------------------------

    def uow(self, ctx: RequestContext | None = None) -> UnitOfWork:
        return UnitOfWork(self, ctx)

    def wake_worker(self) -> None:
        self.worker.wake()

    def public_info(self) -> dict[str, Any]:
        return {
            "suite": self.suite.name,
            "log_id": self.ledger.log_id,
            "log_public_key": self.log_keypair.public.hex(),
            "log_key_fingerprint": self.ledger.key.fingerprint,
            "hash": self.suite.hash_name,
        }

    def close(self) -> None:
        self.worker.stop()
        self.db.dispose()
