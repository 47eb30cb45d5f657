"""`DTypePolicyMap`: dtype policies by layer path (exact key first, then regex keys)."""
from __future__ import annotations

import re
from collections.abc import MutableMapping

from trine.config import DTypePolicy


class DTypePolicyMap(DTypePolicy, MutableMapping):
    """A mapping of layer paths (or regular expressions over them) to dtype policies; as a
    policy itself it behaves as its default policy.

    Args:
        default_policy: the policy of paths no key matches (default the global policy).
        policy_map: an initial dict of key -> policy.

    Raises:
        ValueError: for a DTypePolicyMap as default. TypeError: for a policy_map not a dict.

    Example:
        >>> policies = DTypePolicyMap("float32")
        >>> policies["encoder/.*"] = "bfloat16"
        >>> policies["encoder/dense"].name
        'bfloat16'
    """

    def __init__(self, default_policy=None, policy_map=None):
        from trine.dtype_policies import get
        if isinstance(default_policy, DTypePolicyMap):
            raise ValueError("DTypePolicyMap: default_policy cannot itself be a DTypePolicyMap.")
        if policy_map is not None and not isinstance(policy_map, dict):
            raise TypeError(f"DTypePolicyMap: policy_map must be a dict, received "
                            f"{type(policy_map).__name__}.")
        self._default_policy_arg = default_policy
        self._default_policy = get(default_policy)
        self._policy_map = dict(policy_map or {})

    @property
    def name(self):
        return f"map_{self.default_policy.name}"

    @property
    def default_policy(self):
        return self._default_policy

    variable_dtype = property(lambda self: self._default_policy.variable_dtype)
    compute_dtype = property(lambda self: self._default_policy.compute_dtype)
    quantization_mode = property(lambda self: self._default_policy.quantization_mode)

    @property
    def is_mixed(self):
        return self._default_policy.is_mixed

    def __getitem__(self, key):
        """The policy of `key`: an exact key, else the one key that fully matches as a regex,
        else the default.

        Raises:
            ValueError: when several regex keys match.
        """
        if key in self._policy_map:
            return self._policy_map[key]
        matches = [k for k in self._policy_map if re.fullmatch(k, key)]
        if len(matches) > 1:
            raise ValueError(f"Path {key!r} matches several DTypePolicyMap keys {matches}; make "
                             "the keys match each path at most once.")
        return self._policy_map[matches[0]] if matches else self.default_policy

    def __setitem__(self, key, policy):
        from trine.dtype_policies import get
        if key in self._policy_map:
            raise ValueError(f"DTypePolicyMap already has key {key!r} (policy "
                             f"{self._policy_map[key]}); delete it first or use another key.")
        try:
            self._policy_map[key] = get(policy)
        except Exception:
            raise ValueError(f"DTypePolicyMap: cannot read {policy!r} (of type "
                             f"{type(policy).__name__}) as a dtype policy.") from None

    def __delitem__(self, key):
        return self._policy_map.pop(key)

    def __contains__(self, key):
        return key in self._policy_map

    def __len__(self):
        return len(self._policy_map)

    def __iter__(self):
        return iter(self._policy_map)

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)

    def get_config(self):
        from trine.dtype_policies import serialize
        records = {}
        for key, policy in self._policy_map.items():
            record = serialize(policy)
            if self._default_policy_arg is None:
                # no default given: the policies follow the global one where they are loaded
                record = {**record, "config": {**record["config"], "name": None}}
                if "source_name" in record["config"]:
                    record["config"].pop("name")
                    record["config"]["source_name"] = None
            records[key] = record
        return {"default_policy": self._default_policy_arg, "policy_map": records}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from trine.dtype_policies import deserialize
        policies = {k: deserialize(v, custom_objects)
                    for k, v in (config.get("policy_map") or {}).items()}
        return cls(default_policy=config.get("default_policy"), policy_map=policies)

    def __repr__(self):
        pairs = [(k, v.name) for k, v in self._policy_map.items()]
        return f"<DTypePolicyMap default={self._default_policy.name!r} map={pairs}>"
