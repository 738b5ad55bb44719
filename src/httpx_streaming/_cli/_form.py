"""The ``form`` command: a streaming multipart/form-data upload, in curl's ``-F`` style."""

from __future__ import annotations

import argparse
import mimetypes
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import httpx

from .. import FormData, stream_response
from ._failures import EXIT_OK, EXIT_USAGE, CommandError
from ._inputs import check_readable_file, check_url, is_url, url_file_name
from ._options import Options
from ._upload import upload

FieldKind = Literal["text", "text-file", "file", "url"]
"""A text field, curl's ``<PATH`` (a text field read from a file), ``@PATH`` or ``@URL``."""

_FORM_HELP = "expected NAME=VALUE, NAME=@PATH or NAME=@URL"


@dataclass(frozen=True)
class FieldSpec:
    """One ``-F`` argument: a text field, a file part (``@PATH``) or a URL part (``@URL``)."""

    name: str
    kind: FieldKind
    value: str
    content_type: str | None = None
    file_name: str | None = None


@dataclass(frozen=True)
class FormJob:
    """A checked ``form`` command."""

    url: httpx.URL
    fields: list[FieldSpec]


def prepare_form(args: argparse.Namespace) -> FormJob:
    """Check the ``form`` arguments and the files of ``@PATH`` fields."""
    url = check_url(args.url, "URL")
    if not args.fields:
        raise CommandError(EXIT_USAGE, "no fields: give at least one -F NAME=VALUE")
    specs = [parse_field(value, literal=kind == "string") for kind, value in args.fields]
    for index, spec in enumerate(specs):
        if spec.kind == "file":
            check_readable_file(pathlib.Path(spec.value))
        elif spec.kind == "text-file":
            specs[index] = FieldSpec(spec.name, "text", _read_text(pathlib.Path(spec.value)))
    return FormJob(url, specs)


async def run_form(job: FormJob, options: Options) -> int:
    """POST the form (with retries) and print the answer."""
    async with options.client() as client:
        form = build_form(job.fields, client)
        await upload(client, job.url, form, form.headers, options)
    return EXIT_OK


def parse_field(argument: str, *, literal: bool = False) -> FieldSpec:
    """Parse one ``-F`` (or, with ``literal``, ``--form-string``) argument."""
    option = "--form-string" if literal else "-F"
    name, sep, value = argument.partition("=")
    if not sep or not name:
        raise CommandError(EXIT_USAGE, f"bad {option} argument {argument!r}: {_FORM_HELP}")
    if not literal and value.startswith("<") and len(value) > 1:
        return FieldSpec(name, "text-file", value[1:])
    if literal or not value.startswith("@"):
        return FieldSpec(name, "text", value)
    target = value[1:]
    content_type: str | None = None
    file_name: str | None = None
    # curl's part options: only a trailing ';type=' / ';filename=' is an option,
    # so paths and URLs holding other semicolons pass whole.
    while True:
        head, semicolon, option_text = target.rpartition(";")
        key, equals, option_value = option_text.partition("=")
        if not semicolon or not equals or key not in ("type", "filename"):
            break
        if not option_value:
            raise CommandError(EXIT_USAGE, f"bad -F argument {argument!r}: empty ';{key}=' option")
        if key == "type":
            content_type = content_type or option_value
        else:
            file_name = file_name or option_value
        target = head
    if not target:
        raise CommandError(
            EXIT_USAGE, f"bad -F argument {argument!r}: nothing after '@' ({_FORM_HELP})"
        )
    if is_url(target):
        check_url(target, "an @URL")
        return FieldSpec(name, "url", target, content_type, file_name)
    return FieldSpec(name, "file", target, content_type, file_name)


def build_form(specs: Sequence[FieldSpec], client: httpx.AsyncClient) -> FormData:
    """The form for the ``-F`` fields; ``<PATH`` fields were read and file paths checked."""
    form = FormData()
    # curl -F always sends multipart; a form of text fields only would otherwise
    # go out urlencoded, so text parts then carry their (default) media type.
    text_type = None if any(spec.kind != "text" for spec in specs) else "text/plain; charset=utf-8"
    for spec in specs:
        try:
            if spec.kind == "text":
                form.add_field(spec.name, spec.value, content_type=text_type)
            elif spec.kind == "file":
                path = pathlib.Path(spec.value)
                content_type = spec.content_type or (
                    mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                )
                form.add_field(
                    spec.name,
                    path,
                    content_type=content_type,
                    file_name=spec.file_name or path.name,
                )
            elif spec.kind == "url":
                url = httpx.URL(spec.value)
                form.add_field(
                    spec.name,
                    stream_response(client, "GET", url),
                    content_type=spec.content_type or "application/octet-stream",
                    file_name=spec.file_name or url_file_name(url),
                )
            else:
                raise AssertionError(f"field {spec.name!r}: {spec.kind} not read by prepare_form")
        except (TypeError, ValueError) as exc:
            raise CommandError(EXIT_USAGE, f"bad field {spec.name!r}: {exc}") from None
    return form


def _read_text(path: pathlib.Path) -> str:
    """The content of a ``NAME=<PATH`` field: a small UTF-8 text file, read now."""
    check_readable_file(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(
            EXIT_USAGE, f"{str(path)!r} is not UTF-8 text; send it as a file part with @"
        ) from None
