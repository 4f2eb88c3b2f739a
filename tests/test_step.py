"""FastestStep: a run's first steps try each way of running a step, and the fastest one stays."""

import numpy as np

from faststyle.training.step import FastestStep


class Clock:
    """Wall time that the fake steps move, on two cores: this process keeps one busy, other
    programs `others` of both."""

    def __init__(self, others: float = 0.0):
        self.now, self.others = 0.0, others

    def __call__(self) -> float:
        return self.now

    def cpu(self) -> float:
        return self.now

    def machine(self) -> float:
        return self.now + self.now * 2 * self.others


def fake_step(name: str, clock: Clock, calls: list, cost: dict, compile_cost: float):
    """A step that takes cost[perceptual] seconds, plus compile_cost the first time for each kind."""
    seen = set()

    def step(images, perceptual):
        clock.now += cost[perceptual] + (compile_cost if perceptual not in seen else 0.0)
        seen.add(perceptual)
        calls.append(name)
        return {"total": float(np.mean(images)), "by": name}

    return step


def run(candidates: dict, kinds: list[bool], clock: Clock) -> tuple[FastestStep, list, list[str]]:
    lines = []
    picker = FastestStep(candidates, lines.append, clock=clock, cpu_clock=clock.cpu, machine_clock=clock.machine, cores=2)
    results = [picker(i, perceptual) for i, perceptual in enumerate(kinds)]
    return picker, results, lines


def test_keeps_the_faster_step_and_every_trial_step_is_a_real_step():
    clock, calls = Clock(), []
    candidates = {"XLA": fake_step("XLA", clock, calls, {True: 2.0}, compile_cost=30.0),
                  "graph mode": fake_step("graph mode", clock, calls, {True: 1.3}, compile_cost=5.0)}
    picker, results, lines = run(candidates, [True] * 10, clock)
    # Each candidate: one compiling step, then TIMED_STEPS timed ones; afterwards only the winner.
    trial = 2 * (1 + FastestStep.TIMED_STEPS)
    assert calls[:trial] == ["XLA"] * 3 + ["graph mode"] * 3
    assert picker.chosen == "graph mode" and calls[trial:] == ["graph mode"] * (10 - trial)
    assert [r["total"] for r in results] == list(range(10))  # every step ran, on its own batch
    assert lines == ["a step takes 2.00 s with XLA, 1.30 s with graph mode: training goes on with graph mode"]


def test_compares_only_warm_steps_of_one_kind():
    """Distillation: VGG steps (perceptual) are rare and slower; compiling is never timed."""
    clock, calls = Clock(), []
    # A is faster on the common kind of step but compiles slowly and is slower on perceptual steps.
    candidates = {"A": fake_step("A", clock, calls, {False: 1.0, True: 9.0}, compile_cost=100.0),
                  "B": fake_step("B", clock, calls, {False: 1.5, True: 2.0}, compile_cost=1.0)}
    kinds = [step % 3 == 0 for step in range(1, 16)]  # perceptual on every 3rd step, as --perceptual-every 3
    picker, _, lines = run(candidates, kinds, clock)
    assert picker.chosen == "A" and picker.times == {"A": [1.0, 1.0], "B": [1.5, 1.5]}
    assert len(lines) == 1


def test_a_run_shorter_than_the_trial_just_runs():
    clock, calls = Clock(), []
    candidates = {"A": fake_step("A", clock, calls, {True: 1.0}, 0.0), "B": fake_step("B", clock, calls, {True: 2.0}, 0.0)}
    picker, results, lines = run(candidates, [True] * 4, clock)
    assert picker.chosen is None and lines == [] and len(results) == 4


def test_a_measured_choice_is_remembered_for_the_same_cpu_and_shape(tmp_path):
    """--compile auto measures once per CPU, software and step shape; the next run starts with the winner."""

    from faststyle.training.step import ChoiceMemory

    def picker_with(memory, shape):
        clock, calls = Clock(), []
        candidates = {"XLA": fake_step("XLA", clock, calls, {True: 1.0}, 3.0),
                      "graph mode": fake_step("graph mode", clock, calls, {True: 2.0}, 1.0)}
        lines = []
        picker = FastestStep(candidates, lines.append, clock=clock, memory=memory, cpu_clock=clock.cpu, machine_clock=clock.machine, cores=2)
        for _ in range(8):
            picker(np.zeros(shape), True)
        return picker, calls, lines

    memory = ChoiceMemory(tmp_path / "cache" / "choices.json", "cpu A | tf 2.x")
    first, calls, _ = picker_with(memory, (4, 96, 96, 3))
    assert first.chosen == "XLA" and "graph mode" in calls  # measured
    again, calls, lines = picker_with(memory, (4, 96, 96, 3))
    assert again.chosen == "XLA" and set(calls) == {"XLA"} and "before" in lines[0]  # taken at once
    other_shape, calls, _ = picker_with(memory, (4, 128, 128, 3))
    assert "graph mode" in calls  # another shape of step is measured again
    other_cpu, calls, _ = picker_with(ChoiceMemory(memory.path, "cpu B | tf 2.x"), (4, 96, 96, 3))
    assert "graph mode" in calls
    memory.path.write_text("{not json")  # a damaged file only means measuring again
    damaged, calls, _ = picker_with(memory, (4, 96, 96, 3))
    assert damaged.chosen == "XLA" and "graph mode" in calls and memory.recall("(4, 96, 96, 3) perceptual") == "XLA"


def test_a_choice_measured_while_other_programs_used_the_cpu_is_not_remembered(tmp_path):
    """A loaded CPU can reverse the order of the candidates: such a choice holds for its run only."""
    from faststyle.training.step import ChoiceMemory

    memory = ChoiceMemory(tmp_path / "choices.json", "cpu A | tf 2.x")
    for others, remembered in ((0.5, None), (0.1, "XLA")):
        clock, calls, lines = Clock(others), [], []
        candidates = {"XLA": fake_step("XLA", clock, calls, {True: 1.0}, 3.0),
                      "graph mode": fake_step("graph mode", clock, calls, {True: 2.0}, 1.0)}
        picker = FastestStep(candidates, lines.append, clock=clock, memory=memory, cpu_clock=clock.cpu, machine_clock=clock.machine, cores=2)
        for _ in range(8):
            picker(np.zeros((4, 96, 96, 3)), True)
        assert picker.chosen == "XLA"
        assert memory.recall("(4, 96, 96, 3) perceptual") == remembered
        assert ("other programs used 50% of the CPU" in lines[0]) == (others == 0.5)


def test_auto_takes_graph_mode_unmeasured_for_bfloat16_on_a_cpu():
    """XLA loses to graph mode with bfloat16 maths on a CPU (2.2-2.4x), so auto does not spend a
    fresh machine's first steps measuring it; float32 still measures both."""
    import keras

    from faststyle.training.step import make_train_step

    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    opt = keras.optimizers.SGD(0.1)

    def compute_terms(images, perceptual):
        return {"total": keras.ops.mean(keras.ops.square(net(images) - 1.0), axis=-1)}

    lines = []
    assert isinstance(make_train_step(net, opt, compute_terms, [], "auto", lines.append), FastestStep)
    assert lines == []
    step = make_train_step(net, opt, compute_terms, [], "auto", lines.append, precision="mixed_bfloat16")
    assert not isinstance(step, FastestStep)
    assert lines == ["steps run in graph mode: XLA is slower with bfloat16 on a CPU"]
    images = np.ones((2, 4), np.float32)
    first = step(images, True)["total"]
    for _ in range(5):
        last = step(images, True)["total"]
    assert last < first  # a real step that trains
