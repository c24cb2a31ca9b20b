"""schemathesis hooks for scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS).

`cargo lambda watch`, the local stand-in for API Gateway, answers 500 itself,
without invoking the function, when a body declared as text (JSON, a form) is
not UTF-8. The handlers read such a body as bytes and answer 400
(`any_body_is_fields_or_a_client_error` in `common::request`), so the fuzzer does not send what only the
emulator fails on.
"""

import schemathesis


@schemathesis.hook
def filter_body(ctx, body):
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True
