"""What every chapter experiment is: its setting as plain data (what an executor's job carries), the run store's
root and the device."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from ..store import Store


@dataclass(frozen=True)
class Experiment:
    """A chapter's setting; its fields read as attributes (``X.n_test``). Subclasses name the fields they keep."""

    setting: dict[str, Any]
    store_root: str
    device: str

    FIELDS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_params(cls, P, store: Store, device):
        """The experiment of a chapter's resolved parameters ``P``, keeping ``FIELDS``."""
        return cls({k: getattr(P, k) for k in cls.FIELDS}, str(store.root), str(device))

    def __getattr__(self, name: str) -> Any:
        setting = self.__dict__.get("setting", {})
        if name in setting:
            return setting[name]
        raise AttributeError(name)

    @property
    def dev(self) -> torch.device:
        return torch.device(self.device)

    def store(self) -> Store:
        return Store(self.store_root)
