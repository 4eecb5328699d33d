"""One cloud engine's request-rate budget kept by several instances together: three processes, each with its own
limiter, take their slots from the jobs table in the moto server, and send their pages to the loopback Baidu
service. The arithmetic, the lost races and the fallback are in ``tests/engines/test_ratelimit.py``."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from s3ocr.devstack.servers import REPO_ROOT, MotoServer
from s3ocr.devstack.stack import JOBS_TABLE, create_jobs_table
from tests.fakes_services.baidu import BaiduFake

pytestmark = pytest.mark.integration

RATE = 5.0  # requests a second for the whole function
PAGES = 3  # read by each instance

# An instance: it reads its pages with the Baidu engine once told to start, and prints the slots its limiter
# took from the table (on the monotonic clock, which every process on this machine shares) and the texts.
INSTANCE = """
import json, sys, time
from pathlib import Path
from s3ocr.engines import ratelimit
from s3ocr.engines.baidu import BaiduEngine
from s3ocr.engines.retry import FAST_BACKOFF
from tests.engines.conftest import baidu_credentials, write_page

url, folder = sys.argv[1], Path(sys.argv[2])
engine = BaiduEngine("general", credentials=baidu_credentials, endpoint=url, token_url=url + "/oauth/2.0/token",
                     backoff=FAST_BACKOFF)
page = write_page(folder)
limiter = ratelimit.limiter_for(engine.name)
assert isinstance(limiter, ratelimit.SharedRateLimiter), limiter
read_at, slots = {}, []

def clock():
    read_at["monotonic"] = time.monotonic()
    return time.time()

take = limiter._take

def noted(budget):
    wait = take(budget)
    if wait is not None:
        slots.append(read_at["monotonic"] + wait)
    return wait

limiter._clock, limiter._take = clock, noted
engine.client()  # its access token, before the start
print("ready", flush=True)
sys.stdin.readline()
texts = [engine.recognize(page, "eng", timeout=60).text for _ in range(PAGES)]
print(json.dumps({"slots": slots, "texts": texts}), flush=True)
""".replace("PAGES", str(PAGES))


def test_instances_keep_to_one_budget_through_the_jobs_table(tmp_path: Path):
    # GIVEN the jobs table in the moto server, the Baidu service on loopback, and a budget of 5 requests/s for a
    # function that may run 100 instances (an equal share would be 0.05/s: a request every 20 s)
    with MotoServer() as server:
        create_jobs_table(server.client("dynamodb"))
        fake = BaiduFake().start()
        env = {**os.environ, "AWS_ENDPOINT_URL": server.endpoint, "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "JOBS_TABLE": JOBS_TABLE,
               "OCR_ENGINE_QPS": f"baidu={RATE:g}", "OCR_ENGINE_INSTANCES": "5,95", "PYTHONPATH": str(REPO_ROOT)}
        instances = []
        try:
            for number in range(3):
                folder = tmp_path / f"instance-{number}"
                folder.mkdir()
                instances.append(subprocess.Popen([sys.executable, "-c", INSTANCE, fake.url, str(folder)],
                                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                                  cwd=REPO_ROOT, text=True))
            for instance in instances:
                assert instance.stdout is not None and instance.stdout.readline().strip() == "ready"
            # WHEN all three read their pages at once
            for instance in instances:
                assert instance.stdin is not None
                instance.stdin.write("go\n")
                instance.stdin.flush()
            reports = [json.loads(instance.communicate(timeout=120)[0]) for instance in instances]
        finally:
            for instance in instances:
                instance.kill()
            fake.stop()
    # THEN every page is read, each request through a slot of the shared budget (none fell back to the share)
    assert all(len(report["texts"]) == PAGES and all("LinnSequencer" in text for text in report["texts"])
               for report in reports)
    slots = sorted(slot for report in reports for slot in report["slots"])
    assert len(slots) == 3 * PAGES
    # AND the slots of all three instances lie a fifth of a second apart or more, as one instance's would
    gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
    assert min(gaps) >= 1 / RATE - 0.01, gaps
    # AND no request reached the service before its slot (the k-th arrival after the k-th slot)
    arrivals = sorted(request.received_at for request in fake.ocr_requests)
    assert len(arrivals) == len(slots)
    assert all(arrival >= slot - 0.01 for arrival, slot in zip(arrivals, slots, strict=True)), (arrivals, slots)
