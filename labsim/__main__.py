"""``python -m labsim --kubeconfig K``: run the lab controllers (a SIMULATOR; never point it at production)."""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path
from types import FrameType

from labsim.config import CRD_DIR, SimulatorConfig
from labsim.simulator import Simulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="labsim", description=__doc__)
    parser.add_argument("--kubeconfig", type=Path, required=True, help="the hub the simulator plays on")
    parser.add_argument("--victoria-metrics", help="hub VictoriaMetrics base URL for agents on the Tailscale route")
    parser.add_argument("--provision-delay", type=float, default=1.0, help="seconds until a claim is Ready")
    parser.add_argument("--delete-delay", type=float, default=0.3, help="seconds a deleted claim lingers")
    parser.add_argument("--sync-delay", type=float, default=0.5, help="seconds an Application stays Progressing")
    parser.add_argument("--time-scale", type=float, default=1.0, help="factor on template run times (fast mode)")
    parser.add_argument("--workflow-duration", type=float, default=1.0, help="default Workflow run time, seconds")
    parser.add_argument("--resync-interval", type=float, default=30.0, help="seconds between resyncs (± 20 %%)")
    parser.add_argument("--metrics-interval", type=float, default=2.0, help="seconds between agent writes")
    parser.add_argument("--delay-spread", type=float, default=0.35, help="sigma of the log-normal delays (0: fixed)")
    parser.add_argument("--identity-port", type=int, help="serve the fake cloud identity services on this port")
    parser.add_argument("--slow-factor", type=float, default=10.0, help="delay multiplier of fault 'slow'")
    parser.add_argument("--install-crds", action="store_true", help=f"apply the simulator CRDs from {CRD_DIR} first")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s labsim %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per agent write; failures are logged
    if args.install_crds:
        from labctl.controlplane import install_crds

        install_crds(args.kubeconfig, sorted(CRD_DIR.glob("*.yaml")))
    settings = SimulatorConfig(
        kubeconfig=args.kubeconfig,
        victoria_metrics_url=args.victoria_metrics,
        provision_delay=args.provision_delay,
        delete_delay=args.delete_delay,
        sync_delay=args.sync_delay,
        workflow_duration=args.workflow_duration,
        time_scale=args.time_scale,
        resync_interval=args.resync_interval,
        metrics_interval=args.metrics_interval,
        slow_factor=args.slow_factor,
        delay_spread=args.delay_spread,
        identity_port=args.identity_port,
    )
    simulator = Simulator(settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        simulator.interrupt()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    simulator.run_forever()
    simulator.stop()


if __name__ == "__main__":
    main()
