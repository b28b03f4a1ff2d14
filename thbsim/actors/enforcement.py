"""Enforcement per member state: police, labour inspectorate, referral mechanism,
online monitoring, prosecution and courts, and users' prosecution.

Capacities are arrays over member states; levers change capacities and rates,
never outputs. Detection of victims runs through channels:

- police: proactive investigations of crime groups, allocated in proportion to
  each group's visibility (an Epstein-style hazard 1 - exp(-C w / W)); a raid
  identifies most of the group's victims and names suspects;
- inspection: labour inspections of high-risk sectors; a check meets a victim
  with probability coverage x targeting gain and identifies them with the
  inspectors' recognition rate;
- referral: NGOs, health, social and child-protection services;
- online: monitoring of online advertising, for victims recruited online;
- user_report: clients who report a suspected victim.

Identifications (other than by raid) open investigations of the controlling
group. Suspects go through a prosecution decision and a trial, each with a lag.
"""

from __future__ import annotations

import numpy as np

from thbsim.geography import SECTORS
from thbsim.memo import LastResult

N_FORM_SECTOR = 2 + len(SECTORS)  # sexual, other, then one per labour sector
KEY_CHANNELS = ("inspection", "referral", "online", "user_report")
NO_BOOST = np.ones(0)
"""Stands for "no joint investigation teams" in the courts kernel (which takes an array either way)."""


def form_sector_index(form: np.ndarray, sector: np.ndarray) -> np.ndarray:
    """0 sexual, 1 other, 2.. labour sector."""
    return np.where(form == 0, 0, np.where(form == 2, 1, 2 + sector))


def hazard_key(member_state, form, sector, channel) -> np.ndarray:
    """Per-victim stratum of the detection table, without the child bit."""
    return ((member_state.astype(np.int16) * N_FORM_SECTOR + form_sector_index(form, sector)) * 2 + channel).astype(
        np.int16
    )


class Enforcement:
    def __init__(self, p, geo, rng_justice: np.random.Generator, kernels=None) -> None:
        from thbsim.kernels import reference

        self.p, self.geo = p, geo
        self.kernels = kernels if kernels is not None else reference
        self.rng_justice = rng_justice
        self._justice_kernels = self.kernels.generator_handle(rng_justice)  # the same generator, for kernels
        n = geo.n_states
        idx = geo.enforcement_index
        pop_m = geo.population_m[:n]
        scale = p["scale"]
        self.police_investigations = pop_m * p["police.investigations_per_million"] * idx * scale  # per month
        self.inspection_coverage = np.full((n, len(SECTORS)), p["inspect.checks_per_1000"] / 1000) * idx[:, None]
        self.targeting = np.full(n, p["inspect.targeting"])
        self.extra_coverage = np.zeros((n, len(SECTORS)))  # checks added by levers (share of workers a month)
        self.extra_hits = np.zeros((n, len(SECTORS)))  # those checks x their targeting gain
        self.recognition = np.full(n, p["inspect.recognition"])
        self.referral_rate = np.array([p["referral.rate_sexual"], p["referral.rate_labour"], p["referral.rate_other"]])
        self.referral_capacity = idx.copy()  # multiplier per member state
        self.online_rate = np.full(n, p["online.detection_rate"]) * idx
        self.user_report_rate = np.full(n, p["users.report_rate"])
        self.visibility = np.array([p["police.visibility_sexual"], p["police.visibility_labour"],
                                    p["police.visibility_other"]])
        self.exit_rate = np.array([p["victims.exit_rate_sexual"], p["victims.exit_rate_labour"],
                                   p["victims.exit_rate_other"]])
        self.prosecution_rate = np.full(n, p["justice.prosecution_rate"])
        self.conviction_rate = np.full(n, p["justice.conviction_rate"])
        self.finance_rate = np.full(n, p["finance.investigation_rate"])
        self.freeze_share = np.full(n, p["finance.freeze_share"])
        # users' justice pipeline, per member state
        self.user_pending_decision = np.zeros(n, np.int64)
        self.user_pending_trial = np.zeros(n, np.int64)
        self._user_prosecution_rate = np.full(n, p["users.prosecution_rate"])
        self._user_conviction_rate = np.full(n, p["users.conviction_rate"])
        # cases of dismantled groups, per member state: once its group is gone a case no longer
        # needs the group's row (a sum of binomials with one probability is one binomial)
        self.orphan_decision = np.zeros(n, np.int64)
        self.orphan_trial = np.zeros(n, np.int64)
        self._tables = LastResult(self._compute_detection_tables)
        self._yearly_checks = LastResult(lambda: 1 - (1 - self.inspection_hits()) ** 12)
        self._p_open_by_count = np.zeros(0)  # 1 - (1 - p)^n by n, made longer when a month needs it

    # -- detection table -------------------------------------------------------
    def detection_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per stratum (key*2 + child): probability of identification, of any event, and
        the cumulative channel shares among identifications (for attributing channels).

        Computed again only when an input changed (levers change them; most months none does).
        """
        return self._tables((self.inspection_coverage, self.targeting, self.extra_hits, self.recognition,
                             self.referral_capacity, self.referral_rate, self.online_rate, self.user_report_rate,
                             self.exit_rate))

    def _compute_detection_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p, n = self.p, self.geo.n_states
        h = np.zeros((n, N_FORM_SECTOR, 2, 2, len(KEY_CHANNELS)))  # ms, form-sector, online, child, channel
        insp = self.inspection_hits() * self.recognition[:, None]
        h[:, 2:, :, :, 0] = insp[:, :, None, None]
        ref = self.referral_capacity[:, None] * self.referral_rate[None, [0, 2] + [1] * len(SECTORS)]
        child = np.array([p["referral.child_factor"], 1.0])
        h[..., 1] = ref[:, :, None, None] * child[None, None, None, :]
        h[:, :, 1, :, 2] = self.online_rate[:, None, None]
        h[:, 0, :, :, 3] = self.user_report_rate[:, None, None]
        h_ident = h.sum(axis=-1)
        exit_fs = self.exit_rate[[0, 2] + [1] * len(SECTORS)]
        h_total = h_ident + exit_fs[None, :, None, None]
        p_event = 1 - np.exp(-h_total)
        p_ident = p_event * h_ident / h_total
        shares = np.cumsum(h, axis=-1) / np.maximum(h_ident[..., None], 1e-300)
        return p_ident.ravel(), p_event.ravel(), shares.reshape(-1, len(KEY_CHANNELS))

    def yearly_inspection_risk(self) -> np.ndarray:
        """Probability that a victim in a high-risk job meets an inspector within a year (member state x
        sector): what employers weigh (computed again only when inspections change)."""
        return self._yearly_checks((self.inspection_coverage, self.targeting, self.extra_hits))

    def inspection_hits(self) -> np.ndarray:
        """Monthly probability that a victim in a high-risk job meets an inspector (member state x sector)."""
        return np.minimum(self.inspection_coverage * self.targeting[:, None] + self.extra_hits, 1.0)

    # -- police -------------------------------------------------------------------
    def raids(self, groups) -> np.ndarray:
        """Groups investigated proactively this month (boolean over group rows)."""
        u = groups.used
        hazard = groups.raid_hazard[:u]  # written by the kernel
        # raided if a uniform < 1 - exp(-hazard): decided in the kernel where that is sure without exp (nearly
        # all), here for the rest (kernels.raid_hazard)
        raided, band, draw = self.kernels.raid_hazard(self._justice_kernels, groups.alive[:u], groups.member_state[:u],
                                                      groups.form[:u], groups.held[:u], self.visibility,
                                                      self.police_investigations, self.geo.n_states, hazard)
        raided[band] = draw[band] < 1 - np.exp(-hazard[band])
        return raided

    def open_investigations(self, groups, cases: np.ndarray, raided: np.ndarray) -> np.ndarray:
        """Groups investigated this month (boolean over group rows): those raided, and those whose victims
        identified outside raids (``cases`` per group) open a case: with n of them, with probability
        1 - (1 - p)^n, p = ``police.investigate_on_identification`` (taken from a table by n, kept from month to
        month: numpy's power gives each n the same number in a table of any length)."""
        need = cases.max(initial=0) + 1
        if need > self._p_open_by_count.size:
            length = max(need, 2 * self._p_open_by_count.size, 16)
            self._p_open_by_count = 1 - (1 - self.p["police.investigate_on_identification"]) ** np.arange(length)
        return self.kernels.open_investigations(self._justice_kernels, cases, self._p_open_by_count, raided,
                                                groups.alive[:groups.used])

    def investigate(self, groups, investigated: np.ndarray, t: int) -> np.ndarray:
        """Name suspects in investigated groups, detain some; returns suspects per group."""
        p, u = self.p, groups.used
        return self.kernels.investigate(self._justice_kernels, investigated, groups.members[:u],
                                        groups.pending_decision[:u], groups.investigated_at[:u], t,
                                        p["police.suspects_per_member"], p["police.detention"])

    def courts(self, groups, boost: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Prosecution decisions and verdicts with geometric lags; convicted members leave.

        Returns prosecutions and convictions per group, and per member state those of cases whose
        group has been dismantled (pooled per member state, which frees the group's row).
        """
        p, u = self.p, groups.used
        return self.kernels.courts(
            self._justice_kernels, 1 / p["justice.prosecution_lag"], 1 / p["justice.trial_lag"], 1 - p["police.detention"],
            groups.alive[:u], groups.pending_decision[:u], groups.pending_trial[:u], groups.members[:u],
            groups.member_state[:u], self.prosecution_rate, self.conviction_rate,
            NO_BOOST if boost is None else boost, boost is not None, self.orphan_decision, self.orphan_trial)

    # -- users ------------------------------------------------------------------
    def prosecute_users(self, demand) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Knowing users detected where use is an offence, then prosecuted and convicted; returns suspects,
        prosecutions, convictions and the victims the new cases lead to, per member state."""
        p = self.p
        return self.kernels.user_cases(
            self._justice_kernels, demand.knowing_users, demand.monthly_user_detection(),
            1 / p["justice.prosecution_lag"], 1 / p["justice.trial_lag"], self.user_pending_decision,
            self.user_pending_trial, self._user_prosecution_rate, self._user_conviction_rate,
            p["users.victims_found_per_suspect"])
