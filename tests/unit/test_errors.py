"""Reading what an AWS service answered: the code and status s3ocr decides by (``errors.aws_error_code``)."""

import botocore.exceptions
import pytest

from s3ocr.errors import aws_error_code, aws_http_status


def test_a_client_error_gives_its_code_and_status():
    refusal = botocore.exceptions.ClientError(
        {"Error": {"Code": "ConditionalCheckFailedException", "Message": "The conditional request failed"},
         "ResponseMetadata": {"HTTPStatusCode": 400}}, "UpdateItem")
    assert aws_error_code(refusal) == "ConditionalCheckFailedException"
    assert aws_http_status(refusal) == 400


@pytest.mark.parametrize("response", [{}, {"Error": {}},
                                      {"Error": {"Code": ""}, "ResponseMetadata": {"HTTPStatusCode": None}}])
def test_a_client_error_without_a_code_gives_none(response):
    error = botocore.exceptions.ClientError(response, "GetObject")
    assert aws_error_code(error) == ""
    assert aws_http_status(error) == 0


class _HttpError(Exception):
    """As ``requests``' HTTPError: a ``response`` that is an object, not botocore's dict."""

    response = object()


class _Emptied(Exception):
    """An answer whose sections are there but null."""

    def __init__(self) -> None:
        super().__init__("emptied")
        self.response = {"Error": None, "ResponseMetadata": None}


@pytest.mark.parametrize("error", [botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
                                   ValueError("no"), _HttpError(), _Emptied()])
def test_any_other_error_gives_none(error):
    assert aws_error_code(error) == ""
    assert aws_http_status(error) == 0
