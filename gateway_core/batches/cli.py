"""``gateway batch-worker``: a batch worker as its own process, beside or instead of the one in
``gateway serve``."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable

from gateway_core.batches.storage import build_storage
from gateway_core.batches.worker import BatchWorker
from gateway_core.config import load_settings
from gateway_core.gateway import Gateway

ConfigArgument = Callable[[argparse.ArgumentParser], argparse.ArgumentParser]


async def run_worker(config: str | None, concurrency: int | None) -> None:
    settings = load_settings(config)
    if concurrency is not None:
        batches = settings.batches.model_copy(update={"worker_concurrency": concurrency})
        settings = settings.model_copy(update={"batches": batches})
    gateway = Gateway(settings)
    await gateway.http.open()
    await gateway.open_storage()
    gateway.build_router()
    worker = BatchWorker(gateway, build_storage(settings.batches))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    try:
        await worker.run()
    finally:
        await gateway.router.close()
        await gateway.http.close()
        await gateway.close_storage()


def cmd_batch_worker(args: argparse.Namespace) -> int:
    asyncio.run(run_worker(args.config, args.concurrency))
    return 0


def add_batch_commands(commands: argparse._SubParsersAction, with_config: ConfigArgument) -> None:
    worker = with_config(commands.add_parser("batch-worker", help="process batches"))
    worker.add_argument(
        "--concurrency", type=int, help="lines at once (batches.worker_concurrency)"
    )
    worker.set_defaults(handler=cmd_batch_worker)
