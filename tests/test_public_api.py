"""The public surface: one import point, complete and sorted."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import zcomet
import zcomet.errors


def test_all_is_sorted_and_every_name_exists() -> None:
    assert zcomet.__all__ == sorted(zcomet.__all__)
    for name in zcomet.__all__:
        assert hasattr(zcomet, name), name


def test_every_public_class_of_the_library_modules_is_exported() -> None:
    # A class in a core or net module's __all__ is either exported from
    # zcomet or listed here as a building block users need not import.
    internal = {
        "AsyncClosing",
        "Closing",
        "Compiled",
        "Dispatcher",
        "Envelope",
        "FieldSpec",
        "FrameDecoder",
        "Header",
        "HeaderEncoder",
        "ListSpec",
        "Outbox",
        "Reject",
        "SocketRole",
        "SubscriptionCounter",
        "Tap",
    }
    missing = []
    for layer in ("core", "net"):
        package = importlib.import_module(f"zcomet.{layer}")
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"zcomet.{layer}.{info.name}")
            missing += [
                f"{module.__name__}.{name}"
                for name in getattr(module, "__all__", ())
                if inspect.isclass(getattr(module, name))
                and name not in zcomet.__all__
                and name not in internal
            ]
    assert missing == []


def test_every_error_derives_from_the_root_and_is_exported() -> None:
    for name in zcomet.errors.__all__:
        error = getattr(zcomet.errors, name)
        assert issubclass(error, zcomet.ZcometError)
        assert name in zcomet.__all__


def test_every_module_lists_its_public_names() -> None:
    for package_name in ("zcomet.core", "zcomet.net", "zcomet.app"):
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package_name}.{info.name}")
            assert isinstance(getattr(module, "__all__", None), list), module
