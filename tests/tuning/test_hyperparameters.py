"""Tests for ``tuning.hyperparameters``: declarations, value maps, conditions and configs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tuning.hyperparameters import (
    Boolean,
    Choice,
    Condition,
    Fixed,
    Float,
    HyperParameter,
    HyperParameters,
    Int,
    Parent,
    deserialize,
    serialize,
)


def json_round_trip(config):
    return json.loads(json.dumps(config))


# First call -------------------------------------------------------------------


def test_first_call_without_default_returns_min_value_or_first_value():
    hp = HyperParameters()

    assert hp.Int("i", 3, 9) == 3
    assert hp.Float("f", 0.5, 2.0) == 0.5
    assert hp.Choice("c", ["b", "a"]) == "b"
    assert hp.Boolean("b") is False
    assert hp.Fixed("x", "const") == "const"
    assert hp.values == {"i": 3, "f": 0.5, "c": "b", "b": False, "x": "const"}


def test_first_call_with_default_returns_it_with_the_right_type():
    hp = HyperParameters()

    i = hp.Int("i", 3, 9, default=7)
    f = hp.Float("f", 0, 2, default=1)
    assert (i, type(i)) == (7, int)
    assert (f, type(f)) == (1.0, float)
    assert hp.Choice("c", ["b", "a"], default="a") == "a"
    assert hp.Boolean("b", default=True) is True


def test_choice_default_takes_the_type_of_the_values():
    hp = HyperParameters()

    mixed = hp.Choice("mixed", [1, 2.5], default=1)
    assert (mixed, type(mixed)) == (1.0, float)
    assert hp.Choice("flag", [False, True], default=True) is True


def test_choice_accepts_a_numpy_array_of_values():
    hp = HyperParameters()

    value = hp.Choice("units", np.array([16, 32]))

    assert (value, type(value)) == (16, int)
    assert hp.space[0].values == [16, 32]


def test_asking_again_returns_the_current_value_and_ignores_new_arguments():
    hp = HyperParameters()
    assert hp.Int("x", 1, 10) == 1

    assert hp.Int("x", 5, 20, default=7) == 1
    assert len(hp.space) == 1
    assert hp.space[0].max_value == 10


def test_values_is_a_live_dict_that_writes_through():
    hp = HyperParameters()
    hp.Choice("choice", [1, 2, 3], default=2)

    hp.values["choice"] = 3
    hp.values["later"] = "set"

    assert hp.get("choice") == 3
    assert hp.Choice("later", ["default", "set"], default="default") == "set"
    assert hp.copy().values == {"choice": 3, "later": "set"}


def test_values_read_cuts_inactive_and_fills_defaults_in_the_same_dict():
    hp = HyperParameters()
    hp.Choice("model", ["mlp", "cnn"])
    with hp.conditional_scope("model", "cnn"):
        hp.Int("filters", 8, 64)
    values = hp.values

    values["model"] = "cnn"
    assert hp.values is values
    assert values == {"model": "cnn", "filters": 8}
    values["model"] = "mlp"
    assert hp.values == {"model": "mlp"}


def test_setting_values_copies_the_dict():
    hp = HyperParameters()
    given = {"x": 4}

    hp.values = given
    given["x"] = 5

    assert hp.get("x") == 4


def test_a_value_set_by_the_oracle_wins_over_the_default():
    hp = HyperParameters()
    hp.values = {"x": 4, "act": "tanh"}

    assert hp.Int("x", 1, 10, default=2) == 4
    assert hp.Choice("act", ["relu", "tanh"]) == "tanh"
    assert hp.values == {"x": 4, "act": "tanh"}


# Sampling -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hyperparameter",
    [
        Int("a", 0, 1000),
        Int("a", 1, 1000, sampling="log"),
        Float("a", 0.0, 1.0),
        Float("a", 0.01, 100, step=10, sampling="reverse_log"),
        Choice("a", ["x", "y", "z"]),
        Boolean("a"),
        Fixed("a", "k"),
    ],
    ids=repr,
)
def test_random_sample_takes_an_int_seed_a_generator_or_nothing(hyperparameter):
    assert hyperparameter.random_sample(123) == hyperparameter.random_sample(123)
    assert hyperparameter.random_sample(np.random.default_rng(7)) == hyperparameter.random_sample(
        np.random.default_rng(7)
    )
    assert hyperparameter.contains(hyperparameter.random_sample())
    assert hyperparameter.contains(hyperparameter.random_sample(seed=None))


def test_random_sample_of_a_zero_length_range_is_its_bound():
    assert Float("f", 2, 2).random_sample() == 2
    assert Float("f", 2, 2).value_to_prob(2) == 0.5


# Ranges, steps and grids ----------------------------------------------------------


@pytest.mark.parametrize(
    ("hyperparameter", "grid"),
    [
        (Int("a", 6, 13, step=3), [6, 9, 12]),
        (Int("a", 2, 32, step=2, sampling="log"), [2, 4, 8, 16, 32]),
        (Int("a", 2, 40, step=2, sampling="log"), [2, 4, 8, 16, 32]),
        (Float("a", 0, 10, step=3), [0.0, 3.0, 6.0, 9.0]),
        (Int("a", 1, 5), [1, 2, 3, 4, 5]),
        (Int("a", 4, 4), [4]),
        (Int("a", -10, -5), [-10, -9, -8, -7, -6, -5]),
        (Int("a", -6, 6, step=6), [-6, 0, 6]),
        (Float("a", -1.0, -0.5, step=0.25), [-1.0, -0.75, -0.5]),
        (Float("a", 1.0, 1000.0, step=10, sampling="log"), [1.0, 10.0, 100.0, 1000.0]),
        # reverse_log starts at max_value and spreads out towards min_value.
        (Int("a", 2, 32, step=2, sampling="reverse_log"), [32, 30, 26, 18, 2]),
    ],
)
def test_step_grids_include_max_value_when_on_the_grid(hyperparameter, grid):
    assert hyperparameter.values == pytest.approx(grid)
    assert [type(v) for v in hyperparameter.values] == [type(g) for g in grid]


def test_float_grid_values_carry_no_rounding_noise():
    assert Float("a", 0.0, 0.3, step=0.1).values == [0.0, 0.1, 0.2, 0.3]
    assert Float("a", -1.0, 0.0, step=0.1).values[7] == -0.3
    assert Float("a", 1e-4, 1.0, step=10, sampling="log").values == [1e-4, 1e-3, 1e-2, 0.1, 1.0]
    assert Float("a", 0.0, 1.0, step=0.1).prob_to_value(0.35) == 0.3
    assert HyperParameters().Float("a", 0.0, 1.0, step=0.1, default=0.7) == 0.7


def test_int_without_step_has_step_one_with_linear_sampling_only():
    assert Int("a", 1, 5).step == 1
    assert Int("a", 1, 5, sampling=None).step == 1
    assert Int("a", 1, 64, sampling="log").step is None
    assert Int("a", 2, 20).values == list(range(2, 21))


def test_values_without_a_step_are_ten_bucket_centres():
    centres = [(i + 0.5) / 10 for i in range(10)]

    assert Float("a", 2, 4).values == pytest.approx(
        [2.1, 2.3, 2.5, 2.7, 2.9, 3.1, 3.3, 3.5, 3.7, 3.9]
    )
    log = Int("a", 2, 1024, sampling="log")
    assert log.values == [log.prob_to_value(p) for p in centres]
    assert len(log.values) == 10
    # A narrow range rounds several centres to one value, listed once.
    assert Int("a", 1, 3, sampling="log").values == [1, 2, 3]
    # The list is a sample: every value of the range still counts as allowed.
    assert Float("a", 2, 4).contains(2.0001)


def test_huge_int_range_is_sampled_without_listing_it():
    hyperparameter = Int("seed", 0, 2**40)

    value = hyperparameter.random_sample(np.random.default_rng(0))

    assert 0 <= value <= 2**40
    assert hyperparameter.prob_to_value(math.nextafter(1.0, 0.0)) == 2**40
    assert hyperparameter.value_to_prob(2**40) == pytest.approx(1.0)


@pytest.mark.parametrize("sampling", ["LOG", "Log", "log"])
def test_sampling_names_are_case_insensitive(sampling):
    assert Float("a", 1, 10, sampling=sampling).sampling == "log"
    assert Int("a", 1, 10, sampling="Reverse_Log").sampling == "reverse_log"


def test_sampling_none_means_linear():
    assert Float("a", 1, 10, sampling=None).sampling == "linear"
    assert Float("a", 1, 10, sampling=None).prob_to_value(0.5) == pytest.approx(5.5)


# Probability maps -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("hyperparameter", "prob", "value"),
    [
        (Float("a", 2.0, 10.0), 0.25, 4.0),
        (Float("a", 2.0, 10.0), 0.0, 2.0),
        (Float("a", 1e-4, 1e-2, sampling="log"), 0.5, 1e-3),
        (Float("a", 1e-4, 1e-2, sampling="log"), 0.0, 1e-4),
        # reverse_log: max + min - min * (max / min) ** (1 - p)
        (Float("a", 1.0, 100.0, sampling="reverse_log"), 0.5, 91.0),
        (Float("a", 1.0, 100.0, sampling="reverse_log"), 0.0, 1.0),
        (Int("a", 1, 1000, sampling="log"), 1 / 3, 10),
    ],
)
def test_prob_to_value_follows_the_documented_formulas(hyperparameter, prob, value):
    assert hyperparameter.prob_to_value(prob) == pytest.approx(value)
    assert hyperparameter.value_to_prob(value) == pytest.approx(prob)


@pytest.mark.parametrize(
    "hyperparameter",
    [
        Float("a", -3.0, 5.0),
        Float("a", 1e-5, 1.0, sampling="log"),
        Float("a", 0.5, 0.999, sampling="reverse_log"),
    ],
)
def test_continuous_maps_round_trip(hyperparameter):
    for prob in np.linspace(0.0, 0.99, 12):
        value = hyperparameter.prob_to_value(prob)
        assert hyperparameter.min_value <= value <= hyperparameter.max_value
        assert hyperparameter.value_to_prob(value) == pytest.approx(prob, abs=1e-9)


@pytest.mark.parametrize(
    "hyperparameter",
    [
        Int("a", 6, 13, step=3),
        Int("a", 2, 32, step=2, sampling="log"),
        Int("a", 2, 32, step=2, sampling="reverse_log"),
        Float("a", 0, 10, step=3),
        Int("a", -3, 3),
        Choice("a", ["x", "y", "z"]),
        Choice("a", [0.1, 0.01, 0.001]),
        Fixed("a", 3),
    ],
)
def test_discrete_values_sit_at_bucket_centres_and_round_trip(hyperparameter):
    values = hyperparameter.values
    n = len(values)
    for index, value in enumerate(values):
        prob = hyperparameter.value_to_prob(value)
        assert prob == pytest.approx((index + 0.5) / n)
        assert hyperparameter.prob_to_value(prob) == value
        # Every probability in the bucket maps to the same value.
        assert hyperparameter.prob_to_value(index / n + 1e-9) == value
        assert hyperparameter.prob_to_value((index + 1) / n - 1e-9) == value


def test_boolean_lists_true_first_and_maps_false_below_one_half():
    boolean = Boolean("a")

    assert boolean.values == [True, False]
    assert (boolean.value_to_prob(False), boolean.value_to_prob(True)) == (0.25, 0.75)
    assert (boolean.prob_to_value(0.49), boolean.prob_to_value(0.5)) == (False, True)


def test_reverse_log_grid_starts_at_max_value_as_in_keras_tuner():
    hyperparameter = Float("a", 0.01, 100, step=10, sampling="reverse_log")

    assert hyperparameter.values == pytest.approx([100.0, 99.91, 99.01, 90.01, 0.01])
    assert hyperparameter.prob_to_value(0.3) == pytest.approx(99.91)
    assert hyperparameter.value_to_prob(99.91) == pytest.approx(0.3)


def test_off_grid_value_maps_to_the_nearest_bucket():
    assert Int("a", 6, 13, step=3).value_to_prob(10) == pytest.approx(0.5)
    assert Int("a", 2, 32, step=2, sampling="log").value_to_prob(7) == pytest.approx(0.5)


def test_int_log_without_step_reaches_both_ends():
    hyperparameter = Int("a", 1, 1000, sampling="log")

    assert hyperparameter.prob_to_value(0.0) == 1
    assert hyperparameter.prob_to_value(1 - 1e-9) == 1000
    assert isinstance(hyperparameter.prob_to_value(0.5), int)
    assert hyperparameter.prob_to_value(hyperparameter.value_to_prob(37)) == 37


@pytest.mark.parametrize(
    "hyperparameter",
    [
        Int("a", 6, 13, step=3),
        Int("a", 2, 32, step=2, sampling="log"),
        Int("a", 1, 1000, sampling="log"),
        Int("a", 1, 1000, sampling="reverse_log"),
        Float("a", 0, 10, step=3),
        Float("a", -1.0, 1.0),
        Float("a", 1e-4, 1e-1, sampling="log"),
        Float("a", 1e-4, 1e-1, sampling="reverse_log"),
        Choice("a", ["x", "y", "z"]),
        Boolean("a"),
    ],
)
def test_random_sample_stays_in_range_and_on_the_grid(hyperparameter):
    rng = np.random.default_rng(0)
    samples = [hyperparameter.random_sample(rng) for _ in range(300)]

    if getattr(hyperparameter, "step", 1) is None:  # a continuous range
        assert all(hyperparameter.min_value <= s <= hyperparameter.max_value for s in samples)
        assert len(set(samples)) > 100
    else:
        assert set(samples) == set(hyperparameter.values)  # 300 draws reach every value
    expected_type = type(hyperparameter.default)
    assert all(type(s) is expected_type for s in samples)


# Conditions -----------------------------------------------------------------------


def test_conditional_scope_activates_a_child_only_for_the_parent_values():
    hp = HyperParameters()
    model = hp.Choice("model", ["mlp", "cnn"])
    with hp.conditional_scope("model", ["cnn"]):
        filters = hp.Int("filters", 8, 64)

    assert (model, filters) == ("mlp", None)
    assert hp.values == {"model": "mlp"}
    assert not hp.is_active("filters")
    assert "filters" not in hp
    assert hp.space[1].conditions == [Condition("model", ["cnn"])]

    hp.values = {"model": "cnn", "filters": 32}
    assert hp.is_active("filters")
    assert hp.is_active(hp.space[1])
    assert "filters" in hp
    assert hp["filters"] == 32
    assert hp.values == {"model": "cnn", "filters": 32}


def test_get_raises_value_error_for_inactive_and_key_error_for_unknown():
    hp = HyperParameters()
    hp.Choice("model", ["mlp", "cnn"])
    with hp.conditional_scope("model", "cnn"):
        hp.Int("filters", 8, 64)

    with pytest.raises(ValueError, match="'filters' is currently inactive"):
        hp.get("filters")
    with pytest.raises(ValueError, match="filters"):
        hp["filters"]
    with pytest.raises(KeyError, match="'nope' does not exist"):
        hp.get("nope")
    with pytest.raises(KeyError, match="nope"):
        hp["nope"]
    assert "nope" not in hp
    assert 3 not in hp


def test_parent_name_and_parent_values_arguments_make_a_condition():
    hp = HyperParameters()
    hp.Choice("model", ["mlp", "cnn"])

    units = hp.Int("units", 1, 4, parent_name="model", parent_values=["mlp"])
    kernel = hp.Int("kernel", 3, 5, parent_name="model", parent_values="cnn")

    assert (units, kernel) == (1, None)
    assert hp.values == {"model": "mlp", "units": 1}


def test_nested_scopes_need_every_condition():
    hp = HyperParameters()
    hp.Choice("a", ["x", "y"])
    hp.Boolean("b")
    with hp.conditional_scope("a", ["x"]):
        with hp.conditional_scope("b", [True]):
            c = hp.Int("c", 1, 3)

    assert c is None
    assert len(hp.space[-1].conditions) == 2
    hp.values = {"a": "x", "b": True}
    assert hp.get("c") == 1
    hp.values = {"a": "y", "b": True}
    assert not hp.is_active("c")
    hp.values = {"a": "x", "b": False}
    assert not hp.is_active("c")


def test_a_child_of_an_inactive_parent_is_inactive():
    hp = HyperParameters()
    hp.Choice("a", ["x", "y"])
    with hp.conditional_scope("a", "x"):
        hp.Boolean("b", default=True)
        with hp.conditional_scope("b", [True]):
            hp.Int("c", 1, 3)
    assert hp.values == {"a": "x", "b": True, "c": 1}

    hp.values = {"a": "y", "b": True, "c": 2}

    assert hp.values == {"a": "y"}
    assert not hp.is_active("c")


def test_conditions_see_a_parent_default_that_was_never_stored():
    hp = HyperParameters()
    hp.Choice("model", ["mlp", "cnn"])
    with hp.conditional_scope("model", "mlp"):
        hp.Int("units", 1, 4)

    hp.values = {}

    assert hp.get("model") == "mlp"
    assert hp.is_active("units")
    assert hp.values == {"model": "mlp", "units": 1}


def build_layers(hp):
    """The seed documents' pattern: ``units_{i}`` active while ``num_layers`` > i."""
    units = []
    for i in range(hp.Int("num_layers", 1, 3)):
        with hp.conditional_scope("num_layers", list(range(i + 1, 3 + 1))):
            units.append(hp.Int(f"units_{i}", 32, 512, step=32))
    return units


def test_units_under_num_layers_pattern():
    hp = HyperParameters()
    assert build_layers(hp) == [32]
    assert hp.values == {"num_layers": 1, "units_0": 32}

    hp.values = {"num_layers": 3, "units_0": 64, "units_1": 128}
    assert build_layers(hp) == [64, 128, 32]
    assert hp.values == {"num_layers": 3, "units_0": 64, "units_1": 128, "units_2": 32}
    assert [h.name for h in hp.space] == ["num_layers", "units_0", "units_1", "units_2"]

    hp.values = {**hp.values, "num_layers": 2}
    assert build_layers(hp) == [64, 128]
    assert hp.values == {"num_layers": 2, "units_0": 64, "units_1": 128}
    with pytest.raises(ValueError):
        hp.get("units_2")


def test_the_same_name_under_different_conditions_is_two_hyperparameters():
    def build(hp):
        model = hp.Choice("model", ["a", "b"])
        with hp.conditional_scope("model", "a"):
            small = hp.Int("units", 1, 5)
        with hp.conditional_scope("model", "b"):
            large = hp.Int("units", 10, 20)
        return model, small, large

    hp = HyperParameters()
    assert build(hp) == ("a", 1, None)
    assert [h.name for h in hp.space].count("units") == 2
    assert hp.values == {"model": "a", "units": 1}

    fresh = HyperParameters()
    fresh.values = {"model": "b"}
    assert build(fresh) == ("b", None, 10)
    assert fresh.values == {"model": "b", "units": 10}

    hp.values = {"model": "b"}
    assert hp.get("units") == 10


def test_name_scope_prefixes_names_and_nests():
    hp = HyperParameters()
    with hp.name_scope("block1"):
        hp.Int("units", 1, 4)
        with hp.name_scope("conv"):
            hp.Boolean("bn")
    hp.Int("units", 5, 6)

    assert hp.values == {"block1/units": 1, "block1/conv/bn": False, "units": 5}


def test_conditional_scope_inside_a_name_scope_finds_the_scoped_parent():
    hp = HyperParameters()
    with hp.name_scope("block"):
        hp.Choice("act", ["relu", "elu"])
        with hp.conditional_scope("act", "elu"):
            hp.Float("alpha", 0.1, 1.0)

    assert hp.space[-1].conditions == [Condition("block/act", ["elu"])]
    hp.values = {"block/act": "elu"}
    assert hp.values == {"block/act": "elu", "block/alpha": 0.1}


def test_an_inactive_scoped_parent_is_still_found():
    hp = HyperParameters()
    hp.Boolean("use_block")
    with hp.conditional_scope("use_block", [True]):
        with hp.name_scope("block"):
            hp.Choice("act", ["relu", "elu"])
            with hp.conditional_scope("act", "elu"):
                alpha = hp.Float("alpha", 0.1, 1.0)

    assert alpha is None
    assert hp.space[-1].conditions[-1] == Condition("block/act", ["elu"])
    hp.values = {"use_block": True, "block/act": "elu"}
    assert hp.get("block/alpha") == 0.1


# Copy, merge, config --------------------------------------------------------------


def test_copy_is_independent():
    hp = HyperParameters()
    hp.Int("x", 1, 10)
    clone = hp.copy()

    clone.values = {"x": 5}
    clone.Boolean("b")
    clone.space[0].max_value = 99
    hp.Float("f", 0, 1)

    assert hp.values == {"x": 1, "f": 0.0}
    assert hp.space[0].max_value == 10
    assert clone.values == {"x": 5, "b": False}
    assert [h.name for h in clone.space] == ["x", "b"]


def test_merge_with_overwrite_takes_the_other_declaration_and_value():
    ours = HyperParameters()
    ours.Int("x", 1, 10)
    ours.values = {"x": 3}
    theirs = HyperParameters()
    theirs.Int("x", 0, 20)
    theirs.Int("y", 0, 9, default=5)
    theirs.values = {"x": 7, "y": 5}

    ours.merge(theirs)

    assert ours.values == {"x": 7, "y": 5}
    assert ours.space[0].max_value == 20
    assert [h.name for h in ours.space] == ["x", "y"]


def test_merge_without_overwrite_keeps_ours_and_adds_the_rest():
    ours = HyperParameters()
    ours.Int("x", 1, 10)
    ours.values = {"x": 3}
    theirs = HyperParameters()
    theirs.Int("x", 0, 20)
    theirs.Int("y", 0, 9, default=5)
    theirs.values = {"x": 7, "y": 6}

    ours.merge(theirs, overwrite=False)

    assert ours.values == {"x": 3, "y": 6}
    assert ours.space[0].max_value == 10
    assert len(ours.space) == 2


def test_merge_of_a_list_of_hyperparameters_uses_their_defaults():
    hp = HyperParameters()
    hp.Choice("model", ["mlp", "cnn"])

    hp.merge([Int("units", 1, 4, default=2, conditions=[Condition("model", ["mlp"])])])

    assert hp.values == {"model": "mlp", "units": 2}


def full_space() -> HyperParameters:
    hp = HyperParameters()
    hp.Int("layers", 1, 3)
    hp.Int("units", 32, 512, step=32, default=64)
    hp.Int("batch", 2, 40, step=2, sampling="reverse_log")
    hp.Float("momentum", 0.5, 0.99, step=1.5, sampling="reverse_log")
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    hp.Float("dropout", 0.0, 0.5, step=0.1)
    model = hp.Choice("model", ["mlp", "cnn"])
    with hp.conditional_scope("model", "cnn"):
        hp.Int("filters", 8, 64, step=8)
    with hp.name_scope("head"):
        hp.Boolean("bn", default=True)
        hp.Fixed("act", "relu")
    hp.Choice("rate", [0.1, 0.01], parent_name="layers", parent_values=[2, 3])
    assert model == "mlp"
    return hp


def test_config_round_trips_through_json():
    hp = full_space()
    hp.values = {**hp.values, "layers": 2, "rate": 0.01, "lr": 3e-3}

    config = json_round_trip(hp.get_config())
    restored = HyperParameters.from_config(config)

    assert restored.get_config() == config
    assert restored.values == hp.values
    assert [(type(h), h.name, h.conditions) for h in restored.space] == [
        (type(h), h.name, h.conditions) for h in hp.space
    ]
    for ours, theirs in zip(hp.space, restored.space, strict=True):
        assert ours.values == theirs.values
        assert ours.default == theirs.default
    assert not restored.is_active("filters")
    restored.values = {**restored.values, "model": "cnn"}
    assert restored.get("filters") == 8


@pytest.mark.parametrize("hyperparameter", full_space().space, ids=lambda h: h.name)
def test_each_hyperparameter_config_round_trips_through_json(hyperparameter):
    config = json_round_trip(hyperparameter.get_config())

    restored = type(hyperparameter).from_config(config)

    assert restored.get_config() == hyperparameter.get_config()
    assert isinstance(restored, HyperParameter)


def test_reverse_log_grid_that_misses_min_value_still_starts_at_min_value():
    hp = HyperParameters()

    assert hp.Int("batch", 2, 40, step=2, sampling="reverse_log") == 2
    assert hp.space[0].values == [40, 38, 34, 26, 10]
    assert Int("batch", 2, 40, step=2, sampling="reverse_log", default=2).default == 2


def test_configs_report_defaults_as_keras_tuner_does():
    assert Int("units", 32, 512, step=32).get_config()["default"] is None
    assert Int("units", 32, 512, step=32, default=64).get_config()["default"] == 64
    assert Float("lr", 1e-4, 1e-2, sampling="log").get_config()["default"] == 1e-4
    assert Choice("act", ["relu", "tanh"]).get_config()["default"] == "relu"


def test_from_config_rejects_an_unknown_class():
    with pytest.raises(ValueError, match="Mystery"):
        HyperParameters.from_config({"space": [{"class_name": "Mystery", "config": {}}]})


@pytest.mark.parametrize("hyperparameter", full_space().space, ids=lambda h: h.name)
def test_serialize_and_deserialize_round_trip_each_hyperparameter(hyperparameter):
    serialized = json_round_trip(serialize(hyperparameter))

    restored = deserialize(serialized)

    assert serialized["class_name"] == type(hyperparameter).__name__
    assert type(restored) is type(hyperparameter)
    assert restored.get_config() == hyperparameter.get_config()
    assert repr(restored) == repr(hyperparameter)


def test_serialize_and_deserialize_round_trip_a_container():
    hp = full_space()

    restored = deserialize(json_round_trip(serialize(hp)))

    assert isinstance(restored, HyperParameters)
    assert restored.get_config() == hp.get_config()


def test_deserialize_names_the_classes_it_knows():
    with pytest.raises(ValueError, match=r"Unknown hyperparameter class 'Mystery'.*'Int'"):
        deserialize({"class_name": "Mystery", "config": {}})


def test_the_base_hyperparameter_round_trips_its_config():
    base = HyperParameter(name="base", default=0)

    assert base.get_config() == {"name": "base", "default": 0, "conditions": []}
    restored = HyperParameter.from_config(base.get_config())
    assert (restored.name, restored.default) == ("base", 0)
    with pytest.raises(NotImplementedError, match="HyperParameter"):
        base.random_sample()


def test_repr_names_each_field_as_keras_tuner_does():
    assert repr(Int("j", 1, 10)) == (
        "Int(name: 'j', default: None, min_value: 1, max_value: 10, step: 1, sampling: 'linear')"
    )
    assert repr(Choice("c", ["a", "b"])) == repr(Choice("c", ["a", "b"]))
    assert "name: 'c'" in repr(Choice("c", ["a", "b"]))


# Bad arguments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declare", "error", "match"),
    [
        (
            lambda hp: hp.Int("n", 5, 1),
            ValueError,
            r"'n'.*min_value 5 is greater than the max_value 1",
        ),
        (lambda hp: hp.Float("lr", 1.0, 0.1), ValueError, r"'lr'.*min_value.*max_value"),
        (lambda hp: hp.Int("n", 1.5, 3), ValueError, r"'n'.*min_value must be an integer"),
        (lambda hp: hp.Int("n", 1, 3.5), ValueError, r"'n'.*max_value must be an integer"),
        (lambda hp: hp.Int("n", 1, 9, step=1.5), ValueError, r"'n'.*step must be an integer"),
        (lambda hp: hp.Int("n", "1", 9), TypeError, r"'n'.*min_value"),
        (lambda hp: hp.Float("f", "0", 1), TypeError, r"'f'.*min_value must be a number"),
        (lambda hp: hp.Float("f", 0, 1, step="a"), TypeError, r"'f'.*step must be a number"),
        (lambda hp: hp.Float("f", 0, 1, default="a"), TypeError, r"'f'.*default"),
        (lambda hp: hp.Int("n", 1, 9, step=0), ValueError, r"'n'.*step must be positive"),
        (lambda hp: hp.Float("f", 0, 1, step=-0.1), ValueError, r"'f'.*step must be positive"),
        (
            lambda hp: hp.Float("lr", 0.0, 1.0, sampling="log"),
            ValueError,
            r"'lr'.*sampling='log' does not support negative values or zero",
        ),
        (
            lambda hp: hp.Int("n", -1, 8, sampling="reverse_log"),
            ValueError,
            r"'n'.*sampling='reverse_log' does not support negative values",
        ),
        (
            lambda hp: hp.Float("lr", 1e-4, 1e-1, step=1, sampling="log"),
            ValueError,
            r"Float\(name='lr'\), expected step > 1 with sampling='log'",
        ),
        (
            lambda hp: hp.Int("n", 1, 64, step=1, sampling="log"),
            ValueError,
            r"Int\(name='n'\), expected step > 1 with sampling='log'",
        ),
        (
            lambda hp: hp.Float("f", 0, 1, sampling="cubic"),
            ValueError,
            r"'f'.*sampling.*'cubic'",
        ),
        (lambda hp: hp.Choice("c", []), ValueError, r"'c'.*`values` must be provided"),
        (lambda hp: hp.Choice("c", "abc"), ValueError, r"'c'.*`values` must be provided"),
        (lambda hp: hp.Choice("c", [1, "a"]), TypeError, r"'c'.*can contain only one type"),
        (lambda hp: hp.Choice("c", [True, 2]), TypeError, r"'c'.*can contain only one type"),
        (
            lambda hp: hp.Choice("c", [[1], [2]]),
            TypeError,
            r"'c'.*can contain only `int`, `float`, `str` or `bool` values, got \[1\]",
        ),
        (
            lambda hp: hp.Choice("c", ["a", "b"], default="z"),
            ValueError,
            r"'c'.*default value should be one of the values \['a', 'b'\], got 'z'",
        ),
        (lambda hp: hp.Choice("c", [0, 1], default=True), ValueError, r"'c'.*got True"),
        (lambda hp: hp.Choice("c", [False, True], default=1), ValueError, r"'c'.*got 1"),
        (
            lambda hp: hp.Choice("c", ["a", "b"], ordered=True),
            ValueError,
            r"'c'.*`ordered` must be `False` for non-numeric values",
        ),
        (lambda hp: hp.Int("n", 1, 9, default=10), ValueError, r"'n'.*default 10"),
        (lambda hp: hp.Int("n", 6, 13, step=3, default=7), ValueError, r"'n'.*default 7"),
        (lambda hp: hp.Int("n", 1, 9, default=2.5), ValueError, r"'n'.*default"),
        (lambda hp: hp.Int("n", 0, 2**40, default=2**40 + 1), ValueError, r"'n'.*default"),
        (lambda hp: hp.Float("f", 0, 1, default=2), ValueError, r"'f'.*default 2"),
        (lambda hp: hp.Float("f", 0, 10, step=3, default=4.5), ValueError, r"'f'.*default 4.5"),
        (
            lambda hp: hp.Boolean("b", default="yes"),
            ValueError,
            r"'b'.*`default` must be a Python boolean.*got 'yes'",
        ),
        (lambda hp: hp.Boolean("b", default=None), ValueError, r"'b'.*must be a Python boolean"),
        (lambda hp: hp.Fixed("k", [1, 2]), ValueError, r"'k'.*value must be an `int`"),
        (lambda hp: hp.Fixed("k", None), ValueError, r"'k'.*value must be an `int`.*got None"),
        (lambda hp: hp.Int("", 1, 2), TypeError, r"non-empty string"),
    ],
)
def test_bad_declarations_raise_clear_errors(declare, error, match):
    hp = HyperParameters()
    with pytest.raises(error, match=match):
        declare(hp)
    assert hp.space == []


def test_a_child_may_not_be_named_like_its_parent():
    hp = HyperParameters()
    hp.Int("a", 1, 3)

    with pytest.raises(ValueError, match=r"'a' cannot have the same name as the parent"):
        with hp.conditional_scope("a", [1]):
            hp.Int("a", 1, 3)
    with pytest.raises(ValueError, match=r"'a' cannot have the same name as the parent"):
        hp.Boolean("a", parent_name="a", parent_values=[1])
    assert len(hp.space) == 1


def test_an_unknown_parent_is_an_error():
    hp = HyperParameters()

    with pytest.raises(ValueError, match=r"parent hyperparameter 'ghost' is not defined"):
        with hp.conditional_scope("ghost", [1]):
            pass
    with pytest.raises(ValueError, match=r"'ghost' is not defined"):
        hp.Int("x", 1, 2, parent_name="ghost", parent_values=[1])


def test_parent_name_without_parent_values_is_an_error():
    hp = HyperParameters()
    hp.Int("a", 1, 3)

    with pytest.raises(ValueError, match=r"'x'.*parent_name and parent_values go together"):
        hp.Int("x", 1, 2, parent_name="a")
    with pytest.raises(ValueError, match=r"'x'.*parent_values"):
        hp.Int("x", 1, 2, parent_values=[1])


def test_redeclaring_a_name_with_another_type_is_an_error():
    hp = HyperParameters()
    hp.Int("x", 1, 3)

    with pytest.raises(TypeError, match=r"'x' is already declared as Int, not Float"):
        hp.Float("x", 0, 1)
    assert len(hp.space) == 1


def test_a_fixed_value_wins_over_a_later_declaration_of_another_type():
    # KerasTuner's "fix a few, tune the rest": the tuner's hyperparameters= holds
    # Fixed values that the model-building code then declares as tunable.
    hp = HyperParameters()
    hp.Fixed("learning_rate", 1e-4)

    assert hp.Float("learning_rate", 1e-3, 1e-1, sampling="log") == 1e-4
    assert [type(p).__name__ for p in hp.space] == ["Fixed"]


def test_another_type_under_other_conditions_is_allowed():
    hp = HyperParameters()
    hp.Choice("kind", ["int", "float"])
    with hp.conditional_scope("kind", "int"):
        hp.Int("x", 1, 3)
    with hp.conditional_scope("kind", "float"):
        assert hp.Float("x", 0.0, 1.0) is None

    assert [type(h) for h in hp.space] == [Choice, Int, Float]


def test_a_condition_needs_parent_values():
    with pytest.raises(ValueError, match=r"'p' needs at least one parent value"):
        Condition("p", [])


@pytest.mark.parametrize("value", [None, [1], {"a": 1}])
def test_a_condition_accepts_only_plain_parent_values(value):
    with pytest.raises(TypeError, match=r"'p'.*Can contain only `int`, `float`, `str` or `bool`"):
        Condition("p", [value])


def test_parent_is_keras_tuners_name_for_a_condition():
    hp = HyperParameters()
    hp.Choice("model", ["mlp", "cnn"])
    hp.Int("units", 1, 4, parent_name="model", parent_values="cnn")

    assert hp.space[1].conditions == [Parent("model", ["cnn"])]
    assert Parent("model", np.array(["cnn"])).is_met({"model": "cnn"})


def test_nan_default_is_rejected():
    with pytest.raises(ValueError, match="default nan"):
        Float("f", 0.0, 1.0, default=math.nan)
