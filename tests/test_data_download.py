"""Downloads from a local HTTP server on 127.0.0.1 (never the internet): SHA-256 checks, mirror
fallback, atomic writes and caching."""
import hashlib
import http.server
import threading

import numpy as np
import pytest

from glassnet.data import DownloadError, download, load_data, mnist, write_idx

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class Server:
    """Serves ``files`` (URL path -> bytes) and records every requested path; 404 for anything else."""

    def __init__(self):
        self.files, self.requests = {}, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    s = Server()
    yield s
    s.close()


@pytest.fixture
def mnist_files(tmp_path):
    """The four MNIST .gz files (small) as bytes, and their SHA-256 table."""
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (40, 28, 28), dtype=np.uint8), np.arange(40, dtype=np.uint8) % 10,
              rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), np.arange(10, dtype=np.uint8) % 10]
    source = tmp_path / "source"
    source.mkdir()
    blobs = {f"{n}.gz": write_idx(source / f"{n}.gz", a).read_bytes() for n, a in zip(NAMES, arrays)}
    return blobs, {name: hashlib.sha256(blob).hexdigest() for name, blob in blobs.items()}


def test_download_verifies_sha256_and_writes_the_file(server, tmp_path):
    server.files["/good/data.bin"] = b"payload"
    path = download("data.bin", tmp_path / "cache", [server.base + "/good/"], hashlib.sha256(b"payload").hexdigest())
    assert path == tmp_path / "cache" / "data.bin" and path.read_bytes() == b"payload"


def test_only_mirror_serving_a_corrupt_file_raises_naming_file_and_leaves_nothing(server, tmp_path):
    server.files["/bad/data.bin"] = b"corrupted"
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="data.bin: SHA-256 mismatch, expected ") as info:
        download("data.bin", cache, [server.base + "/bad"], hashlib.sha256(b"payload").hexdigest())
    assert hashlib.sha256(b"corrupted").hexdigest() in str(info.value)
    assert list(cache.iterdir()) == []  # no partial or unverified file


def test_download_falls_back_to_the_next_mirror_after_corrupt_and_missing_files(server, tmp_path):
    server.files["/bad/data.bin"] = b"corrupted"
    server.files["/good/data.bin"] = b"payload"
    mirrors = [server.base + "/bad", server.base + "/missing", server.base + "/good"]
    with pytest.warns(RuntimeWarning, match="data.bin.*SHA-256 mismatch.*404"):
        path = download("data.bin", tmp_path, mirrors, hashlib.sha256(b"payload").hexdigest())
    assert path.read_bytes() == b"payload"
    assert server.requests == ["/bad/data.bin", "/missing/data.bin", "/good/data.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_unreachable_mirror_is_reported_in_the_error(tmp_path):
    dead = Server()
    dead.close()  # the port is now closed: connection refused
    with pytest.raises(DownloadError, match="could not download data.bin"):
        download("data.bin", tmp_path, [dead.base], "0" * 64, timeout=5)


def test_mnist_download_uses_the_working_mirror_and_verifies_every_file(server, tmp_path, mnist_files):
    blobs, hashes = mnist_files
    for name, blob in blobs.items():
        server.files[f"/broken/{name}"] = blob[:-3]  # hash mismatch on every file
        server.files[f"/mirror/{name}"] = blob
    cache = tmp_path / "mnist"
    with pytest.warns(RuntimeWarning, match="SHA-256 mismatch"):
        splits = mnist(cache, download=True, mirrors=[server.base + "/broken/", server.base + "/mirror/"],
                       hashes=hashes, val_fraction=0.25)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (30, 10, 10)
    assert sorted(p.name for p in cache.iterdir()) == sorted(blobs)
    for name, blob in blobs.items():
        assert (cache / name).read_bytes() == blob


def test_second_load_reads_the_cache_without_any_request(server, tmp_path, mnist_files):
    blobs, hashes = mnist_files
    for name, blob in blobs.items():
        server.files[f"/mirror/{name}"] = blob
    first = load_data("mnist", root=tmp_path, download=True, mirrors=[server.base + "/mirror"], hashes=hashes,
                      val_fraction=0.25)
    assert len(server.requests) == 4
    server.requests.clear()
    second = load_data("mnist", root=tmp_path, download=True, mirrors=[server.base + "/mirror"], hashes=hashes,
                       val_fraction=0.25)
    assert server.requests == []
    np.testing.assert_array_equal(first.train.x, second.train.x)


def test_download_without_a_known_hash_is_refused(server, tmp_path):
    with pytest.raises(ValueError, match="no SHA-256 known for train-images-idx3-ubyte.gz"):
        mnist(tmp_path, download=True, mirrors=[server.base], hashes={})
    assert server.requests == []
