"""Stylizing on Ray (the [cluster] extra): the jobs of a plain folder run, painted by a pool of Ray
actors, each holding its ONNX Runtime sessions for the whole run.

    run_jobs_on_ray(jobs, models, ...)   `faststyle stylize ... --ray [ADDRESS]`: same naming,
                                         skipping, error lines and summary as batch.run_jobs
    stylize_dataset(ds, style, ...)      a Ray Dataset of images in, one with their paintings out,
                                         for pipelines that read and write through Ray Data

The styles travel as model bytes through Ray's object store, so workers on other machines need
faststyle installed but not the user's style folder. Photos are read and written by the workers
(`stylize_file`: atomic, never half-written), so on a cluster the paths must be on storage every
node sees; for object storage use `stylize_dataset` with Ray's own readers and writers.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
import warnings
from collections import deque
from pathlib import Path

from faststyle.api import BlendedStyle
from faststyle.batch import DiskFull, Job, Report, paint_job, remove_stale_outputs
from faststyle.errors import FaststyleError
from faststyle.runtime import StyleModel

RAY_MISSING = 'Ray is not installed: pip install "faststyle[cluster]"'


def _ray():
    try:
        import ray
    except ImportError:
        raise FaststyleError(RAY_MISSING) from None
    return ray


def connect(address: str | None = None, workers: int | None = None):
    """Ray, started on this machine (address None or 'local') or joined at `address`, quietly."""
    ray = _ray()
    if not ray.is_initialized():
        local = _local(address)
        try:
            ray.init(address=None if local else address, num_cpus=(workers or os.cpu_count()) if local else None,
                     include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                     configure_logging=True)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise FaststyleError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    logging.getLogger("ray").setLevel(logging.ERROR)
    return ray


def _quiet_ray_data() -> None:
    """Ray Data without its own progress bars and banners (the caller counts pictures). Only where
    Ray Data is used: importing it costs about a second."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def _pack(model: StyleModel | BlendedStyle) -> list[tuple[str, bytes, float]]:
    """A style as [(file name, model bytes, weight)]: what crosses to the workers."""
    parts = model.models if isinstance(model, BlendedStyle) else [model]
    weights = model.weights if isinstance(model, BlendedStyle) else [1.0]
    return [(f"{part.path.parent.name}-{part.path.name}", part.path.read_bytes(), w) for part, w in zip(parts, weights)]


class _Painter:
    """Loads every style of the run once (one ONNX Runtime session each), in a Ray worker."""

    def __init__(self, packed, threads: int, quality: int, options: dict):
        import ray

        if isinstance(packed, ray.ObjectRef):  # Ray Data hands it over as it is; Ray fetches top-level refs
            packed = ray.get(packed)
        self.models = {}
        with tempfile.TemporaryDirectory(prefix="faststyle-ray-") as folder:  # a session keeps its model
            for label, parts in packed.items():
                loaded = []
                for name, data, weight in parts:
                    path = Path(folder) / label / name
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
                    loaded.append((StyleModel.load(path, threads, "cpu"), weight))
                self.models[label] = loaded[0][0] if len(loaded) == 1 else BlendedStyle(*map(list, zip(*loaded)))
        self.quality, self.options = quality, options


class _JobPainter(_Painter):
    """A Ray actor painting the jobs of a folder run, one at a time."""

    def ready(self) -> bool:
        return True

    def paint(self, index: int, job: Job) -> tuple[int, str | None, bool]:
        """-> (index, error or None, whether the run must stop)."""
        try:
            return index, paint_job(job, self.models[job.style], self.quality, **self.options), False
        except DiskFull as exc:
            return index, str(exc), True


class _EarlyPainter(threading.Thread):
    """Paints jobs from the front of the queue in this process, with one thread, while a local Ray
    starts: its start-up leaves about half of a 2-core CPU idle for 5 s (docs/cluster.md).
    stop() hands the jobs not yet taken to the pool; the one in hand is finished here."""

    def __init__(self, queue: deque, packed: dict, report: Report, quality: int, options: dict):
        super().__init__(name="faststyle-early-painter", daemon=True)
        self.queue, self.packed, self.report = queue, packed, report
        self.quality, self.options = quality, options
        self.lock, self.stopping = threading.Lock(), threading.Event()
        self.start()

    def run(self) -> None:
        try:
            painter = _JobPainter(self.packed, 1, self.quality, self.options)
        except Exception:  # noqa: BLE001 - the pool paints everything then, and reports any model error
            return
        while not self.stopping.is_set() and not self.report.stopped:
            with self.lock:
                if not self.queue:
                    return
                index, job = self.queue.popleft()
            _, error, stop = painter.paint(index, job)
            self.report.stopped |= stop
            self.report.record(job, error)

    def stop(self) -> list[tuple[int, Job]]:
        self.stopping.set()
        with self.lock:
            rest = list(self.queue)
            self.queue.clear()
        return rest


def run_jobs_on_ray(jobs: list[Job], models: dict, address: str | None = None, workers: int | None = None,
                    quality: int = 92, as_json: bool = False, **options) -> int:
    """batch.run_jobs on a pool of Ray actors: one line per failure, the same summary, exit 1 if any failed.

    A plain actor pool (Ray core) rather than Ray Data: a list of files needs nothing more, and Ray
    Data's helper actors cost about 5 s of start-up on a 2-core machine (docs/cluster.md). When the
    run starts a local Ray, this process paints the first photos itself until the pool is ready.
    """
    remove_stale_outputs(jobs)
    report = Report(len(jobs), as_json)
    report.bar()
    queue = deque(enumerate(jobs))
    packed = {label: _pack(model) for label, model in models.items()}
    started_here = not _ray().is_initialized()
    early = _EarlyPainter(queue, packed, report, quality, options) if started_here and _local(address) else None
    try:
        ray = connect(address, workers)
        try:
            _run_on_pool(ray, jobs, queue, early, packed, workers, quality, report, options)
        finally:
            if started_here:  # now, rather than at exit, where Ray first waits half a second for log lines
                ray.shutdown()
    finally:
        if early is not None:
            early.stop()
            early.join()
    return report.finish()


def _local(address: str | None) -> bool:
    return address in (None, "", "local")


def _run_on_pool(ray, jobs: list[Job], queue: deque, early: _EarlyPainter | None, packed: dict,
                 workers: int | None, quality: int, report: Report, options: dict) -> None:
    cpus = int(ray.cluster_resources().get("CPU", 1))
    workers = max(1, min(workers or cpus, len(queue) or 1))
    threads = max(1, cpus // workers)
    painter = ray.remote(num_cpus=threads)(_JobPainter)
    try:
        packed = ray.put(packed)
        actors = [painter.remote(packed, threads, quality, options) for _ in range(workers)]
        ray.get([actor.ready.remote() for actor in actors])
        rest = early.stop() if early is not None else list(queue)
        if report.stopped:
            return
        pool = ray.util.ActorPool(actors)
        for index, error, stop in pool.map_unordered(lambda actor, item: actor.paint.remote(*item), rest):
            report.record(jobs[index], error)  # as the pictures are done, in any order
            if stop:
                report.stopped = True
                break
    except ray.exceptions.RayError as exc:  # a worker died (killed, out of memory): what is done stays
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        print(f"faststyle: error: a Ray worker failed ({first}); run again to paint the rest", file=sys.stderr)
        report.failed += 1


def stylize_dataset(ds, style, *, column: str = "image", output_column: str = "stylized",
                    workers: int | None = None, fast: bool = False, **options):
    """A Ray Dataset with HxWx3 uint8 images in `column` -> the same rows plus their paintings.

    e.g. ray.data.read_images("s3://bucket/photos") -> stylize_dataset(ds, "wave") ->
    .write_images("s3://bucket/painted", column="stylized"). `options` as for faststyle.stylize
    (strength, preserve_colors, max_size, stroke_scale). Ray is started here if it is not yet.
    """
    from faststyle.api import as_model

    ray = connect()
    _quiet_ray_data()
    cpus = int(ray.cluster_resources().get("CPU", 1))
    workers = max(1, workers or cpus)
    threads = max(1, cpus // workers)
    packed = ray.put({"style": _pack(as_model(style, fast=fast))})
    return _map_with_painters(ds, _DatasetPainter, workers, threads,
                              {"packed": packed, "threads": threads, "quality": 92,
                               "options": {**options, "column": column, "output": output_column}})


def _map_with_painters(ds, painter: type, workers: int, threads: int, arguments: dict):
    """ds.map_batches on a pool of `workers` painter actors, one row at a time (photos differ in size)."""
    import ray

    with warnings.catch_warnings():
        # max_restarts as a keyword is deprecated (Ray 2.60) with no replacement yet. Without it the
        # default restarts make Ray's core worker log an error line about restarting actors whose
        # arguments live in the object store (the driver holds them for the whole run anyway).
        warnings.simplefilter("ignore")
        return ds.map_batches(painter, batch_size=1, compute=ray.data.ActorPoolStrategy(size=workers),
                              num_cpus=threads, max_restarts=0, fn_constructor_kwargs=arguments)


class _DatasetPainter(_Painter):
    """A Ray Data actor painting the images of a batch of rows (one row a batch: photos differ in size)."""

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        from faststyle.api import stylize

        options = dict(self.options)
        column, output = options.pop("column"), options.pop("output")
        batch[output] = np.stack([np.asarray(stylize(image, self.models["style"], **options))
                                  for image in batch[column]])
        return batch
