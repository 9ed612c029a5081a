"""What the sandbox is configured with: the ``TAV_CODE_*`` settings, as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Limits:
    """What one run of code may use; exceeding one ends it with a node error."""

    timeout_s: float = 30
    cpu_s: int = 10
    memory_bytes: int = 512 * 1024 * 1024
    processes: int = 16
    open_files: int = 64
    log_bytes: int = 1024 * 1024
    result_bytes: int = 16 * 1024 * 1024
    tmp_bytes: int = 64 * 1024 * 1024

    def for_job(self) -> dict[str, int]:
        """The limits the sandboxed interpreter sets on itself (``setrlimit``)."""
        return {
            "cpu_s": self.cpu_s,
            "memory_bytes": self.memory_bytes,
            "processes": self.processes,
            "open_files": self.open_files,
            "tmp_bytes": self.tmp_bytes,
        }


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """How code runs: under bubblewrap (``bwrap``) or, unsafe, without a sandbox."""

    limits: Limits = Limits()
    bwrap: str = "bwrap"
    unsafe_no_sandbox: bool = False
    packages: tuple[str, ...] = ()
    """Import names the code may import besides the standard library (with what they
    need)."""
    allow_network: bool = False
    warm: int = 2
    """Interpreters kept started, each waiting for one job."""

    @classmethod
    def from_settings(cls, settings: Any) -> SandboxConfig:
        """From ``tav.settings.Settings``."""
        limits = Limits(
            timeout_s=settings.code_timeout_s,
            cpu_s=settings.code_cpu_s,
            memory_bytes=settings.code_memory_mb * 1024 * 1024,
            processes=settings.code_max_processes,
            open_files=settings.code_max_open_files,
            log_bytes=settings.code_max_log_bytes,
            result_bytes=settings.code_max_result_bytes,
            tmp_bytes=settings.code_tmp_bytes,
        )
        return cls(
            limits=limits,
            bwrap=settings.code_bwrap,
            unsafe_no_sandbox=settings.code_unsafe_no_sandbox,
            packages=tuple(settings.code_packages),
            allow_network=settings.code_allow_network,
            warm=settings.code_warm,
        )
