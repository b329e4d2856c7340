"""Fetching dataset files: mirrors, progress bar, SHA-1 check, atomic write, retries.

Only the vision datasets call this, and only for files that are missing.
Tests replace ``fetch_url`` (the one function that touches the network) so
no test ever opens a connection.
"""
import hashlib
import os
import socket
import tempfile
import time
import urllib.error
import urllib.request

from ...base import HybridnetIOError

__all__ = ["data_dir", "default_root", "check_sha1", "download", "DownloadError",
           "OfflineError", "downloads_allowed"]

# Gluon's dataset mirror (the SHA-1 sums the datasets list are those of its files).
GLUON_REPO = "https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/"
CHUNK = 1 << 20


class DownloadError(HybridnetIOError):
    """A file could not be fetched (network error, HTTP error, checksum mismatch)."""


class OfflineError(DownloadError):
    """No mirror could be reached at all (no network, DNS failure, refused)."""


def data_dir():
    """``$HYBRIDNET_HOME`` (default ``~/.hybridnet``): where datasets and models live."""
    return os.path.expanduser(os.environ.get("HYBRIDNET_HOME", os.path.join("~", ".hybridnet")))


def default_root(name):
    return os.path.join(data_dir(), "datasets", name)


def gluon_repo():
    repo = os.environ.get("HYBRIDNET_GLUON_REPO") or os.environ.get("MXNET_GLUON_REPO") \
        or GLUON_REPO
    return repo if repo.endswith("/") else repo + "/"


def downloads_allowed():
    """False when ``HYBRIDNET_OFFLINE`` is set to a true value (1, true, yes)."""
    return os.environ.get("HYBRIDNET_OFFLINE", "").strip().lower() not in ("1", "true", "yes")


def check_sha1(fname, sha1_hash):
    """True when the SHA-1 of the file ``fname`` equals ``sha1_hash`` (hex)."""
    h = hashlib.sha1()
    with open(fname, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest() == sha1_hash


class _Unreachable(Exception):
    pass


def _is_offline(err):
    """Errors that mean "cannot reach the host at all" (retrying will not help)."""
    if isinstance(err, urllib.error.HTTPError):
        return False
    reason = getattr(err, "reason", err)
    return isinstance(reason, (socket.gaierror, socket.timeout, ConnectionRefusedError,
                               TimeoutError)) or (
        isinstance(reason, OSError) and getattr(reason, "errno", None) in (101, 113))


def fetch_url(url, timeout):
    """Open ``url`` for reading; returns a file-like response with ``.headers``.

    The only function here that touches the network (tests monkeypatch it).
    """
    req = urllib.request.Request(url, headers={"User-Agent": "hybridnet"})
    return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 (https mirrors)


def _progress(total, desc):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is a dependency; stay usable without it anyway
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                leave=False)


def _fetch_once(url, fname, sha1_hash, timeout):
    """Stream ``url`` into a temp file next to ``fname``; verify; rename into place."""
    folder = os.path.dirname(os.path.abspath(fname))
    try:
        resp = fetch_url(url, timeout)
    except (urllib.error.URLError, OSError) as e:
        if _is_offline(e):  # could not even connect: retrying will not help
            raise _Unreachable(f"{url}: {e}") from None
        raise
    os.makedirs(folder, exist_ok=True)  # only once a mirror answered
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    h = hashlib.sha1()
    try:
        total = resp.headers.get("Content-Length") if getattr(resp, "headers", None) else None
        bar = _progress(int(total) if total else None, os.path.basename(fname))
        with os.fdopen(fd, "wb") as f:
            try:
                for chunk in iter(lambda: resp.read(CHUNK), b""):
                    f.write(chunk)
                    h.update(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
                close = getattr(resp, "close", None)
                if close is not None:
                    close()
            f.flush()
            os.fsync(f.fileno())
        if sha1_hash and h.hexdigest() != sha1_hash:
            raise DownloadError(f"{url}: SHA-1 {h.hexdigest()} does not match the expected "
                                f"{sha1_hash} (corrupt or different file)")
        os.replace(tmp, fname)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def download(urls, fname, sha1_hash=None, retries=3, timeout=10.0, backoff=1.0):
    """Download ``fname`` from the first mirror in ``urls`` that works.

    Each mirror is tried up to ``retries`` times (network errors, HTTP errors
    and checksum mismatches are retried with a growing pause); when no mirror
    can be reached at all the caller gets ``OfflineError`` at once instead of
    waiting through every retry. The file appears atomically and only after its
    SHA-1 matched.

    Returns
    -------
    str
        ``fname``.
    """
    if isinstance(urls, str):
        urls = [urls]
    errors = []
    for attempt in range(max(1, int(retries))):
        unreachable = 0
        for url in urls:
            try:
                _fetch_once(url, fname, sha1_hash, timeout)
                return fname
            except DownloadError as e:
                errors.append(str(e))
            except _Unreachable as e:
                errors.append(str(e))
                unreachable += 1
            except (urllib.error.URLError, OSError, ValueError) as e:  # mid-transfer failures
                errors.append(f"{url}: {e}")
        if unreachable == len(urls):
            raise OfflineError("no mirror reachable: " + "; ".join(errors[-len(urls):]))
        if attempt + 1 < retries:
            time.sleep(backoff * (attempt + 1))
    raise DownloadError("; ".join(errors[-len(urls):]))
