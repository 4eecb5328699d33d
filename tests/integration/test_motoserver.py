"""The dev stack's moto server keeps DynamoDB's promise that a conditional write is atomic; moto's own server does
not. Both run with their threads switching every 10 µs, so that a thread is often stopped between a write's
check and the write itself, as it is now and then at the default interval."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from s3ocr.devstack.servers import free_port, wait_for_port

pytestmark = pytest.mark.integration

WRITERS = 4

SERVER = ("import sys; sys.setswitchinterval(1e-5); from {module} import main; "
          "main(['-H', '127.0.0.1', '-p', sys.argv[1]])")


@contextmanager
def server(module: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER.format(module=module), str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 30, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


def rounds_with_several_winners(endpoint: str, rounds: int, until_first: bool = False) -> int:
    """In each of ``rounds`` rounds, WRITERS threads create the same item on condition that it does not exist yet;
    ``until_first``: stop at the first round that several won."""
    import boto3

    def client():
        return boto3.session.Session().client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                                              aws_access_key_id="testing", aws_secret_access_key="testing")

    clients = [client() for _ in range(WRITERS)]
    clients[0].create_table(TableName="claims", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
    several = 0
    for number in range(rounds):
        winners: list[int] = []
        start = threading.Barrier(WRITERS)

        def claim(writer: int, number: int = number, winners: list[int] = winners,
                  start: threading.Barrier = start) -> None:
            dynamodb = clients[writer]
            start.wait()
            try:
                dynamodb.update_item(TableName="claims", Key={"pk": {"S": f"job-{number}"}},
                                     UpdateExpression="SET #o = :o", ConditionExpression="attribute_not_exists(#o)",
                                     ExpressionAttributeNames={"#o": "owner"},
                                     ExpressionAttributeValues={":o": {"N": str(writer)}})
                winners.append(writer)
            except dynamodb.exceptions.ConditionalCheckFailedException:
                pass

        threads = [threading.Thread(target=claim, args=(writer,)) for writer in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert winners, f"round {number}: nobody won"
        several += len(winners) > 1
        if several and until_first:
            break
    return several


def test_moto_own_server_lets_several_conditional_writes_win():
    # the reason for our own server: without it, the test below could not fail
    # (several won in 27 of 100 rounds here: the first double win comes within a few rounds)
    with server("moto.server") as endpoint:
        assert rounds_with_several_winners(endpoint, rounds=500, until_first=True) > 0


def test_one_conditional_write_wins_on_the_dev_stack_server():
    with server("s3ocr.devstack.motoserver") as endpoint:
        assert rounds_with_several_winners(endpoint, rounds=100) == 0
