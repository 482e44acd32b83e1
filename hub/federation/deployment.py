"""Flower Deployment Engine: a SuperLink the hub manages (or reaches) and `flwr run`.

Sites run `flower-supernode --superlink <host:port> --node-config "site-id=… data-path=…
policy-file=…"` with the ClientApp installed. The hub writes a minimal Flower app directory
per run (pyproject naming `hub.federation.server_app:app` and the site ClientApp, with this
run's config), starts it with `flwr run … --format json`, polls `flwr ls --run-id` and tails
the ServerApp's JSON Lines events (the ServerApp runs on the SuperLink host, so the hub reads
the same file). The SuperLink never installs dependencies at run time.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.federation.engine import (
    CLIENT_APP,
    SERVER_APP,
    EventTail,
    FederationEngine,
    Progress,
    RunResult,
    RunSpec,
    run_config_toml,
    stop_process_group,
)


@dataclass(frozen=True)
class TlsFiles:
    """SuperLink TLS material: the CA certificate, and the server certificate and key (needed
    only to start a SuperLink; connecting to one needs the CA alone)."""

    ca_cert: Path
    cert: Path | None = None
    key: Path | None = None


class DeploymentEngine(FederationEngine):
    """Runs federations on real SuperNodes through a SuperLink."""

    def __init__(
        self,
        work_dir: str | Path,
        superlink: str = "127.0.0.1:9093",
        manage_superlink: bool = True,
        tls: TlsFiles | None = None,
        supernode_auth: bool = False,
        poll_s: float = 2.0,
        timeout_s: float | None = None,
        bin_dir: str | Path | None = None,
    ) -> None:
        super().__init__(work_dir)
        self.superlink, self.manage, self.tls = superlink, manage_superlink, tls
        self.supernode_auth, self.poll_s, self.timeout_s = supernode_auth, poll_s, timeout_s
        here = Path(sys.executable).parent  # the environment's own Flower executables
        found = here if (here / "flwr").exists() else Path(shutil.which("flwr") or "flwr").parent
        self.bin_dir = Path(bin_dir) if bin_dir else found
        self.flwr_home = self.work_dir / "flwr"
        self._superlink: subprocess.Popen[bytes] | None = None

    # --- SuperLink lifecycle -------------------------------------------------------
    def _bin(self, name: str) -> str:
        return str(self.bin_dir / name)

    def superlink_command(self) -> list[str]:
        """The `flower-superlink` command line this engine uses."""
        host, _, port = self.superlink.rpartition(":")
        cmd = [
            self._bin("flower-superlink"),
            "--host",
            host,
            "--port",
            port,
            "--disable-runtime-dependency-installation",
            "--database",
            str(self.work_dir / "superlink.db"),
        ]
        if self.tls:
            if self.tls.cert is None or self.tls.key is None:
                raise ValueError("starting a SuperLink with TLS needs its certificate and key")
            cmd += [
                "--ssl-ca-certfile",
                str(self.tls.ca_cert),
                "--ssl-certfile",
                str(self.tls.cert),
                "--ssl-keyfile",
                str(self.tls.key),
            ]
        else:
            cmd.append("--insecure")
        if self.supernode_auth:
            cmd.append("--enable-supernode-auth")
        return cmd

    def start(self, wait_s: float = 60.0) -> None:
        """Start the SuperLink (if this engine manages it) and wait until it listens."""
        self._write_connection()
        if self.manage and (self._superlink is None or self._superlink.poll() is not None):
            log = (self.work_dir / "superlink.log").open("ab")
            self._superlink = subprocess.Popen(  # noqa: S603 - fixed argv built above
                self.superlink_command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(),
                start_new_session=True,
            )
        host, _, port = self.superlink.rpartition(":")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self._superlink is not None and self._superlink.poll() is not None:
                raise RuntimeError(f"SuperLink exited; see {self.work_dir / 'superlink.log'}")
            with socket.socket() as s:
                s.settimeout(0.5)
                if s.connect_ex((host, int(port))) == 0:
                    return
            time.sleep(0.5)
        raise TimeoutError(f"SuperLink at {self.superlink} not reachable after {wait_s:g} s")

    def stop(self) -> None:
        """Stop the SuperLink this engine started."""
        if self._superlink is not None:
            stop_process_group(self._superlink)
            self._superlink = None

    def register_site(self, public_key: Path, site_id: str) -> dict[str, Any]:
        """Register a site's SuperNode public key (node authentication)."""
        return self._flwr("supernode", "register", str(public_key), "fedhub", "--name", site_id)

    # --- runs ----------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        path = os.pathsep.join([str(self.bin_dir), os.environ.get("PATH", "")])
        return {**os.environ, "FLWR_HOME": str(self.flwr_home), "PATH": path}  # SuperExec via PATH

    def _write_connection(self) -> None:
        self.flwr_home.mkdir(parents=True, exist_ok=True)
        lines = [
            "[superlink]",
            'default = "fedhub"',
            "",
            "[superlink.fedhub]",
            f"address = {json.dumps(self.superlink)}",
        ]
        if self.tls:
            lines.append(f"root-certificates = {json.dumps(str(self.tls.ca_cert.resolve()))}")
        else:
            lines.append("insecure = true")
        target = self.flwr_home / "config.toml"
        tmp = target.with_name(f".config.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, target)  # hub workers share the file: never expose a partial one

    def _flwr(self, *args: str, timeout: float = 120.0) -> dict[str, Any]:
        if not (self.flwr_home / "config.toml").exists():
            self._write_connection()  # e.g. registering a site key before any run
        out = subprocess.run(  # noqa: S603 - fixed executable, arguments built here
            [self._bin("flwr"), *args, "--format", "json"],
            capture_output=True,
            env=self._env(),
            timeout=timeout,
            check=False,
        )
        text = out.stdout.decode(errors="replace").strip()
        try:
            data: dict[str, Any] = json.loads(text[text.index("{") :]) if "{" in text else {}
        except ValueError:
            data = {}
        if out.returncode != 0 or data.get("success") is False:
            err = data.get("error-message") or out.stderr.decode(errors="replace")[-500:] or text
            raise RuntimeError(f"flwr {' '.join(args[:2])} failed: {err}")
        return data

    def write_app(self, spec: RunSpec, run_dir: Path) -> Path:
        """A Flower app directory for this run (components + this run's config)."""
        app = run_dir / "app"
        app.mkdir(parents=True, exist_ok=True)
        server_mod, _, server_attr = SERVER_APP.partition(":")
        client_mod, _, client_attr = CLIENT_APP.partition(":")
        (app / "pyproject.toml").write_text(
            f'[project]\nname = "fedhub-{spec.task}"\nversion = "1.0.0"\ndependencies = []\n\n'
            '[tool.flwr.app]\npublisher = "fedhub"\n\n'
            f'[tool.flwr.app.components]\nserverapp = "{server_mod}:{server_attr}"\n'
            f'clientapp = "{client_mod}:{client_attr}"\n\n'
            f"[tool.flwr.app.config]\n{run_config_toml(spec.run_config(run_dir))}\n"
        )
        return app

    def run(
        self, spec: RunSpec, progress: Progress | None = None, cancel: threading.Event | None = None
    ) -> RunResult:
        """Submit the run and follow it until it finishes."""
        self.start()
        run_dir = self.run_dir(spec)
        app = self.write_app(spec, run_dir)
        started = time.monotonic()
        flower_run = str(self._flwr("run", str(app), "fedhub")["run-id"])
        (run_dir / "flower-run-id").write_text(flower_run)
        tail = EventTail(run_dir / "events.jsonl")
        status, outcome, last_poll = "", "", 0.0
        while True:
            for ev in tail.poll():
                if progress:
                    progress(ev)
            if cancel is not None and cancel.is_set():
                outcome = "cancelled"
            elif self.timeout_s and time.monotonic() - started > self.timeout_s:
                outcome = "timeout"
            if outcome:
                self._flwr("stop", flower_run, "fedhub")
                break
            if time.monotonic() - last_poll >= self.poll_s:
                last_poll = time.monotonic()
                runs = self._flwr("ls", "fedhub", "--run-id", flower_run).get("runs", [])
                status = str(runs[0]["status"]) if runs else ""
                if status.startswith("finished"):
                    break
            time.sleep(0.2)
        for ev in tail.poll():
            if progress:
                progress(ev)
        result = RunResult.from_events(spec.run_id, tail.events, run_dir / "result")
        if outcome:
            result.status = "cancelled" if outcome == "cancelled" else "failed"
            result.reason = (
                outcome if outcome == "cancelled" else f"run exceeded {self.timeout_s:g} s"
            )
        elif result.status != "completed" and not result.reason:
            result.reason = f"Flower run {flower_run} ended with status {status or 'unknown'}"
        if not result.duration_s:
            result.duration_s = time.monotonic() - started
        return result
