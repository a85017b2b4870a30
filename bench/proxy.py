"""nginx in front of the drill's gunicorn, configured by the shipped `deploy/nginx.conf`.

The site file is used as shipped except for what only a production host has: the
drill's ports replace the `listen` lines and gunicorn's address the upstream's, and the
[::] and ssl_ lines are dropped, so the server that serves HTTPS in production speaks
plain HTTP here. Every other directive (timeouts, buffering, body size, headers) is the
shipped one; a site file that no longer has a line this expects stops the drill rather
than drilling something else. nginx runs in the foreground with its pid, logs and temp
files in a directory of its own, and is checked with `nginx -t` first.
"""

import http.client
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness import ROOT, free_port

SITE = ROOT / "deploy" / "nginx.conf"

# What the drill changes in the site file: a pattern (one line, multiline mode) and its
# replacement, given the ports.
EDITS = [
    (r"^(\s*)server 127\.0\.0\.1:8000;$", r"\1server 127.0.0.1:{upstream};"),
    (r"^(\s*)listen 80;$", r"\1listen 127.0.0.1:{redirect_port};"),
    (r"^(\s*)listen 443 ssl http2;$", r"\1listen 127.0.0.1:{port};"),
    (r"^\s*listen \[::\]:.*\n", ""),
    (r"^\s*ssl_\w+ .*\n", ""),
]

MAIN = """\
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{
    worker_connections 1024;
}}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/redqueen.conf;
}}
"""


@dataclass
class Proxy:
    process: subprocess.Popen
    port: int  # The server that serves HTTPS in production, plain HTTP here.
    redirect_port: int  # The plain-HTTP server: a redirect to HTTPS, and /healthz.
    directory: Path
    version: str


def nginx_binary() -> str:
    """nginx on PATH or in /usr/sbin, which a user's PATH often leaves out."""
    found = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if found is None:
        raise RuntimeError("nginx is not installed: apt-get install nginx (make faults does)")
    return found


def render(site: str, *, upstream: int, port: int, redirect_port: int) -> str:
    ports = {"upstream": upstream, "port": port, "redirect_port": redirect_port}
    for pattern, replacement in EDITS:
        site, count = re.subn(pattern, replacement.format(**ports), site, flags=re.M)
        if not count:
            raise RuntimeError(f"{SITE} has no line matching {pattern!r}: update bench/proxy.py")
    return site


def start_proxy(upstream: int) -> Proxy:
    """nginx on two free ports in front of gunicorn on `upstream`; returns once it
    answers /healthz."""
    binary = nginx_binary()
    directory = Path(tempfile.mkdtemp(prefix="faults-nginx-"))
    # Started by root, nginx's workers run as nobody and write request bodies here.
    directory.chmod(0o755)
    port, redirect_port = free_port(), free_port()
    site = render(SITE.read_text(), upstream=upstream, port=port, redirect_port=redirect_port)
    (directory / "redqueen.conf").write_text(site)
    conf = directory / "nginx.conf"
    conf.write_text(MAIN.format(dir=directory))
    command = [binary, "-p", f"{directory}/", "-c", str(conf), "-e", str(directory / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)  # noqa: S603
    if checked.returncode:
        raise RuntimeError(f"nginx -t refused {directory / 'redqueen.conf'}:\n{checked.stderr}")
    version = subprocess.run([binary, "-v"], capture_output=True, text=True)  # noqa: S603
    process = subprocess.Popen(  # noqa: S603 (our own command line)
        command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
    )
    proxy = Proxy(process, port, redirect_port, directory, version.stderr.split("/")[-1].strip())
    try:
        wait_proxy(proxy)
    except BaseException:
        stop_proxy(proxy)
        raise
    return proxy


def wait_proxy(proxy: Proxy) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proxy.process.poll() is not None:
            log = (proxy.directory / "error.log").read_text()
            raise RuntimeError(f"nginx exited with {proxy.process.returncode}:\n{log}")
        probe = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=2)
        try:
            probe.request("GET", "/healthz")
            if probe.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            probe.close()
        time.sleep(0.1)
    raise RuntimeError("nginx did not answer /healthz within 10 s")


def stop_proxy(proxy: Proxy) -> None:
    """A fast shutdown (SIGTERM): connections still open are closed, not waited for."""
    if proxy.process.poll() is None:
        proxy.process.send_signal(signal.SIGTERM)
        try:
            proxy.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proxy.process.kill()
            proxy.process.wait()
