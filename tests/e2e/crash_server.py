"""``sunbid serve`` that dies hard (``os._exit``, like ``kill -9``) at a chosen point of a bid submission.

``python -m tests.e2e.crash_server MODE --port P`` with the deployment's ``SUNBID_*`` settings in the environment
(see :mod:`tests.e2e.bidserver`). ``os._exit`` skips every clean-up, rollback and flush, exactly as a SIGKILL at
that instruction would. Modes:

``chunk_before_commit``
    the first chunk appended by this process is written and fsynced to the spool file, the new offset is in the
    transaction, and the process dies before the commit (the bytes are on disk, never acknowledged);
``complete_before_commit``
    the first completion checked the container, stored it and wrote the bid, the log entry and the facts into
    its transaction, and the process dies before the commit;
``complete_after_commit``
    the first completion committed, and the process dies before building and sending the receipt.
"""

from __future__ import annotations

import os
import sys
from typing import Any

MODES = ("chunk_before_commit", "complete_before_commit", "complete_after_commit")


def _die() -> None:
    sys.stderr.write("crash_server: dying now\n")
    sys.stderr.flush()
    os._exit(137)


def install(mode: str) -> None:
    """Patch the submission code so that this process dies at ``mode``'s point."""
    from sunbid.bidding import api, service

    if mode == "chunk_before_commit":
        original_append = service.append_chunk

        def append_then_die(*args: Any, **kwargs: Any) -> int:
            original_append(*args, **kwargs)
            _die()
            raise AssertionError("unreachable")

        setattr(service, "append_chunk", append_then_die)  # noqa: B010 - patch the module
    elif mode == "complete_before_commit":
        original_complete = service.complete_upload

        def complete_then_die(*args: Any, **kwargs: Any) -> Any:
            original_complete(*args, **kwargs)
            _die()

        setattr(service, "complete_upload", complete_then_die)  # noqa: B010
    elif mode == "complete_after_commit":

        def receipt_then_die(*args: Any, **kwargs: Any) -> Any:
            _die()

        setattr(api, "ensure_receipt", receipt_then_die)  # noqa: B010
    else:
        raise SystemExit(f"unknown mode {mode!r}; one of {', '.join(MODES)}")


def main() -> None:
    mode, rest = sys.argv[1], sys.argv[2:]
    install(mode)
    from sunbid.platform.cli import serve

    port = int(rest[rest.index("--port") + 1])
    serve(host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
