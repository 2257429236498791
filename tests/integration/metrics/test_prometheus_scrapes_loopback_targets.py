"""The metrics tests' Prometheus (Debian's package, kubetask.testing.prometheus) scrapes a target on
loopback and answers PromQL about what it served; it refuses a target that is not on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kubetask.testing.prometheus import prometheus, scrape_config


class _Exposition(BaseHTTPRequestHandler):
    served = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).served += 1
        body = (
            "# HELP probe_answers_total Answers served.\n# TYPE probe_answers_total counter\n"
            f'probe_answers_total{{kind="scrape"}} {type(self).served}\n'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
        pass


@pytest.fixture
def target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Exposition)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_loopback_target_is_scraped_and_queried(target: str) -> None:
    with prometheus({"probe": [target]}, interval=0.5) as prom:
        prom.wait_scraped()
        prom.wait_scraped()  # a second scrape since the first: the counter has moved
        samples = prom.query('probe_answers_total{job="probe", kind="scrape"}')
        assert len(samples) == 1
        assert float(samples[0]["value"][1]) >= 2
        assert samples[0]["metric"]["instance"] == target
        with pytest.raises(ValueError, match="bad_data"):
            prom.query("sum(")


@pytest.mark.parametrize("bad", ["10.0.0.1:9090", "localhost:9090", "127.0.0.1", "example.org:80"])
def test_a_target_off_loopback_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a loopback host:port"):
        scrape_config({"x": [bad]}, 1.0)
