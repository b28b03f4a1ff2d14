"""Every input a user may change, declared once: default, bounds, unit and source.

A ``Param`` is a declaration; a ``ParamSet`` is one choice of values for all of
them (defaults overridden by a scenario, a calibration or a sweep). Sources are
either a row of the project's FACTS (the report and the studies it cites) or
``assumption: <why>``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

EUR_PER_USD_2016 = 0.9034
"""EUR per USD, ECB reference rate, 2016 annual average (1 EUR = 1.1069 USD).

USD figures (ILO profits) are converted at this rate; 2014 and 2021 figures are
not deflated (euro-area inflation 2014-2016 was under 0.5 % a year).
"""


@dataclass(frozen=True)
class Param:
    """One declared model input."""

    name: str
    default: float
    low: float
    high: float
    unit: str
    source: str
    doc: str
    uncertain: bool = True
    """Whether sweeps, calibration and sensitivity analyses may vary it."""

    def __post_init__(self) -> None:
        if not self.low <= self.default <= self.high:
            raise ValueError(f"{self.name}: default {self.default} outside [{self.low}, {self.high}]")
        if not self.source:
            raise ValueError(f"{self.name}: a parameter needs a source")


def _p(name, default, low, high, unit, source, doc, uncertain=True) -> Param:
    return Param(name, float(default), float(low), float(high), unit, source, doc, uncertain)


A = "assumption: "
PARAMETERS: tuple[Param, ...] = (
    # --- scale and time -------------------------------------------------
    _p("scale", 1.0, 0.001, 64.0, "factor",
       A + "1 is the real EU-27 scale; smaller values make quick test runs, larger ones benchmarks",
       "Multiplies every population of the model: at-risk pools, users, employers, "
       "enforcement capacity, fixed budgets.", uncertain=False),
    # --- vulnerable populations (origins) --------------------------------
    _p("pool.at_risk_per_million", 150.0, 20.0, 1000.0, "people per million inhabitants x propensity",
       A + "people in reach of recruiters; scaled by each origin's recruitment_propensity (data/countries.csv)",
       "Size of the at-risk pool per origin: population_m x propensity x this."),
    _p("pool.child_share", 0.3, 0.1, 0.5, "share",
       A + "children are over-represented among the vulnerable (unaccompanied minors, Roma communities)",
       "Share of each at-risk pool under 18."),
    _p("pool.turnover", 1 / 60, 1 / 240, 1 / 12, "per month",
       A + "a spell of vulnerability lasts about five years",
       "Monthly share of the at-risk pool that leaves (and is replaced toward the pool's base size)."),
    # --- recruitment propensities (true victims) -------------------------
    _p("recruit.female_odds_sexual", 25.0, 2.0, 200.0, "odds ratio female:male",
       "FACTS: cost study 2016, sexual exploitation 4,842 of 5,137 victims female",
       "Relative susceptibility of women and girls to recruitment for sexual exploitation."),
    _p("recruit.female_odds_labour", 0.6, 0.05, 3.0, "odds ratio female:male",
       "FACTS: report 2.2, 68 % of labour victims male; cost study 257 of 1,124 female",
       "Relative susceptibility of women and girls to recruitment for labour exploitation."),
    _p("recruit.female_odds_other", 1.2, 0.2, 5.0, "odds ratio female:male",
       "FACTS: cost study 2016, other forms 1,044 of 1,766 female",
       "Relative susceptibility of women and girls to recruitment for other forms."),
    _p("recruit.child_odds_sexual", 0.65, 0.05, 2.0, "odds ratio child:adult",
       "FACTS: report 2.4, more than 60 % of child victims sexually exploited",
       "Relative susceptibility of children to recruitment for sexual exploitation."),
    _p("recruit.child_odds_labour", 0.2, 0.01, 1.0, "odds ratio child:adult",
       "FACTS: cost study 2016, 127 of 1,124 labour victims children",
       "Relative susceptibility of children to recruitment for labour exploitation."),
    _p("recruit.child_odds_other", 1.0, 0.05, 3.0, "odds ratio child:adult",
       "FACTS: report 2.3, forced criminality and begging often with children",
       "Relative susceptibility of children to recruitment for other forms."),
    _p("recruit.domestic_affinity", 260.0, 1.0, 300.0, "relative route weight",
       "FACTS: report II, more than one third trafficked within their own member state",
       "Weight of the domestic route against a route to another member state of equal demand."),
    _p("recruit.non_eu_reach", 2.0, 0.1, 5.0, "relative route weight",
       "FACTS: report II, EU citizens almost half of victims",
       "Weight of routes from non-EU origins against intra-EU routes."),
    _p("recruit.online_share_sexual", 0.35, 0.0, 1.0, "share",
       A + "report 2.1: recruitment for sexual exploitation increasingly online",
       "Share of sexual-exploitation recruits recruited and advertised online."),
    _p("recruit.online_share_other", 0.15, 0.0, 1.0, "share",
       A + "online recruitment less common for labour and other forms",
       "Share of labour and other-form recruits recruited online."),
    _p("recruit.success", 0.5, 0.05, 1.0, "probability",
       A + "half of recruitment attempts succeed",
       "Probability that an attempt on a person of the at-risk pool yields a victim. A reference: recruits follow "
       "groups' wants, and only changes of success (prevention) change their number and cost.", uncertain=False),
    # --- demand ----------------------------------------------------------
    _p("demand.sex_buyers_per_1000", 12.0, 3.0, 40.0, "users per 1,000 inhabitants",
       A + "surveys: 5-15 % of men bought sex in the past year; about 1 % of inhabitants monthly",
       "Users of sexual services per 1,000 inhabitants (per stratum = member state)."),
    _p("demand.purchases_per_user", 1.5, 0.5, 4.0, "purchases per user per month", A + "survey-based order of magnitude",
       "Commercial sexual services bought by a user a month."),
    _p("demand.exploited_share_sex", 0.27, 0.02, 0.6, "share",
       A + "share of commercial sexual services that the market would take from victims at the reference price",
       "Demand for victims' sexual services, as a share of all purchases at the reference price."),
    _p("demand.clients_per_victim", 100.0, 30.0, 300.0, "clients per victim per month", A + "NGO and police case files",
       "Services a sexual-exploitation victim is forced to provide a month."),
    _p("demand.knowing_share", 0.10, 0.01, 0.5, "share",
       A + "most users of victims' services do not know (or say they do not)",
       "Share of users of victims' services who know the person is a victim."),
    _p("demand.user_turnover", 1 / 24, 1 / 120, 1 / 6, "per month", A + "users buy for a couple of years",
       "Monthly share of users who stop; new users arrive toward the deterred base."),
    _p("demand.max_fall_knowing_use", 0.1, 0.0, 0.25, "share of demand for victims' services",
       "FACTS: bans on buying sex: no significant effect (Sweden SOU 2010:49; Nordquist 2023) to a 10-25 % fall "
       "of the market (Norway, Vista Analyse 2014); an offence of knowing use reaches fewer buyers, so at most that",
       "Largest fall of users' buying from victims that an offence of knowing use can bring about."),
    _p("demand.half_effect_penalty_eur", 200.0, 20.0, 2000.0, "EUR expected per knowing user per year",
       A + "deterrence grows with the expected penalty and saturates",
       "Expected yearly penalty at which users' buying from victims falls by half its largest fall."),
    _p("demand.employer_turnover", 1 / 36, 1 / 120, 1 / 6, "per month", A + "small firms in high-risk sectors turn over",
       "Monthly share of willing employers who stop; new ones arrive toward the deterred base."),
    _p("demand.labour_at_risk_per_1000", 60.0, 10.0, 200.0, "workers per 1,000 inhabitants",
       A + "employment in the high-risk sectors named in report 2.2 (agriculture, construction, hospitality, "
       "cleaning, domestic work and care, food processing and textiles, waste and forestry)",
       "Workers in high-risk sectors per 1,000 inhabitants."),
    _p("demand.exploited_share_labour", 0.00036, 0.0001, 0.01, "share",
       A + "share of high-risk-sector jobs employers would fill with victims at the reference price",
       "Employers' demand for forced labour, as a share of high-risk-sector jobs."),
    _p("demand.employer_deterrence", 1.0, 0.0, 20.0, "per (expected fine / yearly value)",
       A + "employers weigh inspection risk",
       "Employers' demand falls as exp(-this x yearly inspection risk x fine / yearly value of a victim's work)."),
    _p("demand.employer_fine_eur", 10000.0, 0.0, 100000.0, "EUR per case", A + "administrative and criminal fines",
       "Expected fine to an employer caught using forced labour."),
    _p("demand.other_per_million", 15.5, 5.0, 300.0, "victims per million inhabitants",
       A + "markets for forced begging and criminality at the reference price",
       "Demand for victims in other forms (begging, criminality, fraud) per million inhabitants."),
    _p("demand.elasticity", 1.5, 0.5, 5.0, "price elasticity", A + "illicit markets are moderately elastic",
       "Price elasticity of demand for victims' services; sets how fast prices fall when supply rises."),
    # --- money (EUR, 2016 prices) ---------------------------------------
    _p("money.revenue_sexual", 3600.0, 1000.0, 10000.0, "EUR per victim-month",
       "FACTS: ILO 2014 profit USD 21,800 per victim-year (EUR 19,700), higher in Europe; revenue = profit + costs",
       "Reference revenue from a sexual-exploitation victim a month."),
    _p("money.revenue_labour", 900.0, 200.0, 4000.0, "EUR per victim-month",
       "FACTS: ILO 2014 forced-labour profit about USD 4,000 per victim-year (EUR 3,600)",
       "Reference revenue from a labour-exploitation victim a month."),
    _p("money.revenue_other", 800.0, 200.0, 4000.0, "EUR per victim-month",
       "FACTS: ILO 2024 other forms USD 3,687 per victim-year (EUR 3,300)",
       "Reference revenue from a victim of other forms a month."),
    _p("money.cost_share", 0.4, 0.1, 0.8, "share of reference revenue",
       A + "upkeep, housing, transport, bribes, advertising",
       "Operating cost per victim-month as a share of the reference revenue."),
    _p("money.recruit_cost_months", 1.0, 0.0, 6.0, "months of reference revenue",
       A + "documents, travel and fees for one recruit", "Cost of recruiting one victim."),
    _p("money.payout_rate", 0.08, 0.01, 0.5, "per month",
       A + "members take profits out (consumption, laundering abroad)",
       "Share of a group's assets paid out to members each month."),
    _p("money.start_capital_months", 6.0, 0.0, 24.0, "months of reference revenue x 4 victims",
       A + "a new group needs capital for a few recruits", "Capital of an entering group."),
    # --- crime groups -----------------------------------------------------
    _p("groups.victims_per_member", 4, 0.5, 10.0, "victims per member",
       A + "control of victims takes people (drivers, guards, recruiters)",
       "Victims a member can control at full profitability."),
    _p("groups.adjust_rate", 0.25, 0.02, 1.0, "per month", A + "recruitment closes a quarter of the gap a month",
       "Share of the gap between desired and held victims a group tries to recruit each month."),
    _p("groups.risk_aversion", 3.0, 0.0, 5.0, "factor",
       A + "traffickers fear arrest more than its cost in lost revenue (prison, loss of network)",
       "Weight of expected losses (detection, arrest, confiscation) against expected revenue."),
    _p("groups.member_value_months", 12.0, 0.0, 60.0, "months of reference revenue",
       A + "the cost to a group of losing a member to arrest",
       "Loss to a group per member arrested, used in its risk calculation."),
    _p("groups.member_growth", 0.04, 0.0, 0.2, "per member per month", A + "groups grow while the business pays",
       "Monthly rate at which profitable groups take on members."),
    _p("groups.member_quit", 0.01, 0.0, 0.1, "per member per month", A + "members leave, die or fall out",
       "Monthly rate at which members leave for reasons other than justice."),
    _p("groups.mobility", 0.01, 0.0, 0.05, "per group per month",
       "FACTS: interdiction displaces rather than removes activity (Magliocca et al. 2019)",
       "Monthly probability that a group reconsiders the member state it exploits in."),
    _p("groups.relocation_gain", 0.02, 0.0, 1.0, "share of reference revenue per victim-month",
       A + "moving costs contacts and premises", "Margin gain a group needs to move to another member state."),
    _p("groups.min_members", 2.0, 1.0, 5.0, "members", A + "a group of one is a lone trafficker, not a group",
       "A group with fewer members is dismantled.", uncertain=False),
    _p("groups.entry_rate", 0.06, 0.001, 0.2, "groups per month per group-sized market gap",
       A + "new groups enter where the business is profitable and demand unmet",
       "Entry rate of new groups per unit of unmet profitable demand."),
    _p("groups.entry_hurdle", 0.3, 0.0, 1.0, "share of reference revenue per victim-month",
       A + "would-be traffickers weigh the margin against what else they could earn",
       "Expected margin per victim-month (after expected losses) below which no group enters."),
    _p("groups.initial_members", 4.0, 2.0, 10.0, "members", A + "small networks dominate EU case files",
       "Mean members of a group at entry."),
    # --- victims ---------------------------------------------------------
    _p("victims.exit_rate_sexual", 0.015, 0.001, 0.1, "per month",
       A + "escape, release, debt paid off", "Monthly hazard of leaving exploitation unidentified (sexual)."),
    _p("victims.exit_rate_labour", 0.030, 0.001, 0.2, "per month",
       A + "seasonal and short contracts end", "Monthly hazard of leaving exploitation unidentified (labour)."),
    _p("victims.exit_rate_other", 0.02, 0.001, 0.1, "per month",
       A + "escape, release", "Monthly hazard of leaving exploitation unidentified (other forms)."),
    _p("victims.accept_support", 0.8, 0.1, 1.0, "probability", A + "most identified victims accept assistance",
       "Probability an identified victim enters support."),
    _p("victims.support_months", 12.0, 1.0, 48.0, "months", A + "recovery and reflection plus assistance",
       "Mean months in support."),
    _p("victims.retrafficking_rate", 0.0008, 0.0, 0.02, "per month in support",
       "FACTS: IOM, 79 re-trafficked of more than 14,000 assisted over ten years (a lower bound)",
       "Monthly hazard that a supported victim is re-trafficked."),
    _p("victims.form_unrecorded", 0.07, 0.0, 0.3, "probability",
       "FACTS: report II, form not given for 7 % of registered victims",
       "Probability that a registration leaves the form of exploitation blank."),
    # --- enforcement ----------------------------------------------------
    _p("police.investigations_per_million", 0.082, 0.05, 5.0, "proactive investigations per million inhabitants per month",
       A + "police THB units; scaled by each member state's enforcement_index",
       "Proactive police investigations of crime groups a month."),
    _p("police.visibility_sexual", 1.0, 0.1, 5.0, "relative", A + "reference", "Visibility of sexual-exploitation groups."),
    _p("police.visibility_labour", 0.2, 0.05, 5.0, "relative", A + "labour exploitation hides in legal business",
       "Visibility of labour-exploitation groups."),
    _p("police.visibility_other", 0.8, 0.05, 5.0, "relative", A + "begging and criminality are in public view",
       "Visibility of groups in other forms."),
    _p("police.raid_identifies", 0.6, 0.1, 1.0, "probability", A + "a raid finds most victims present",
       "Probability that a victim of an investigated group is identified."),
    _p("police.investigate_on_identification", 0.6, 0.05, 1.0, "probability",
       A + "identification usually opens a case", "Probability that identifying a victim opens an investigation of the group."),
    _p("police.suspects_per_member", 0.74, 0.05, 1.0, "probability", A + "investigations name part of a group",
       "Probability that a member of an investigated group becomes a suspect."),
    _p("police.detention", 0.4, 0.0, 1.0, "probability", A + "pre-trial detention of suspects",
       "Probability that a suspect is taken out of the group at arrest."),
    _p("justice.prosecution_rate", 0.52, 0.05, 1.0, "probability",
       "FACTS: report 3.1, 6,163 prosecutions of 11,788 suspects (a ratio, not a fitted value)",
       "Probability that a suspect is prosecuted."),
    _p("justice.conviction_rate", 0.40, 0.05, 1.0, "probability",
       "FACTS: report 3.1, 2,426 convictions of 6,163 prosecutions",
       "Probability that a prosecution ends in conviction."),
    _p("justice.prosecution_lag", 6.0, 1.0, 36.0, "months", A + "investigation to indictment",
       "Mean months from suspect to prosecution decision."),
    _p("justice.trial_lag", 12.0, 1.0, 48.0, "months", A + "indictment to verdict",
       "Mean months from prosecution to verdict."),
    _p("inspect.checks_per_1000", 3.0, 0.1, 30.0, "workers checked per 1,000 high-risk workers per month",
       A + "labour inspectorates check a few % of workers a year", "Labour inspection coverage."),
    _p("inspect.targeting", 5, 1.0, 100.0, "hit-rate gain over random checks",
       "FACTS: EMPACT targeted checks find 0.4-1.3 % possible victims, far above prevalence",
       "How much likelier a risk-based check meets a victim than a random one."),
    _p("inspect.recognition", 0.35, 0.05, 1.0, "probability", A + "inspectors trained in indicators",
       "Probability that a check that meets a victim identifies them."),
    _p("referral.rate_sexual", 0.007, 0.0005, 0.1, "per month", A + "NGO outreach, health services, self-report",
       "Monthly hazard of identification through the referral mechanism (sexual)."),
    _p("referral.rate_labour", 0.0025, 0.0005, 0.1, "per month", A + "NGOs, unions, consulates",
       "Monthly hazard of identification through the referral mechanism (labour)."),
    _p("referral.rate_other", 0.005, 0.0005, 0.1, "per month", A + "child protection, social services",
       "Monthly hazard of identification through the referral mechanism (other forms)."),
    _p("referral.child_factor", 2.3, 1.0, 6.0, "factor", A + "child protection services and schools notice children",
       "Multiplier on referral identification for children."),
    _p("online.detection_rate", 0.004, 0.0, 0.05, "per month",
       A + "online monitoring of advertising (report 2.1, 2.5)", "Monthly hazard of identification of online-advertised victims."),
    _p("users.report_rate", 0.0015, 0.0, 0.02, "per month", A + "clients who report a suspected victim",
       "Monthly hazard that a sexual-exploitation victim is identified through a user's report."),
    _p("users.detection_per_year", 0.0075, 0.0, 0.2, "per knowing user per year",
       "FACTS: report 3.1, 170 user suspects in 2017-2018 in 11 member states",
       "Yearly probability that a knowing user is detected where knowing use is an offence."),
    _p("users.victims_found_per_suspect", 0.2, 0.05, 0.6, "probability",
       A + "a buyer's case often leads the police to the victim (statements, phone, premises)",
       "Probability that the case of a detected knowing user identifies the victim."),
    _p("users.penalty_eur", 3000.0, 0.0, 50000.0, "EUR", A + "fines and suspended sentences",
       "Expected penalty to a convicted user."),
    _p("users.prosecution_rate", 0.95, 0.1, 1.0, "probability", "FACTS: report 3.1, 162 of 170 user suspects prosecuted",
       "Probability that a user suspect is prosecuted."),
    _p("users.conviction_rate", 0.82, 0.1, 1.0, "probability", "FACTS: report 3.1, 133 of 162 prosecuted users convicted",
       "Probability that a prosecuted user is convicted."),
    _p("finance.investigation_rate", 0.18, 0.0, 1.0, "probability", A + "report 3.1: resources for financial investigations lacking",
       "Probability that a criminal investigation of a group includes a financial investigation."),
    _p("finance.freeze_share", 0.25, 0.0, 1.0, "share of assets",
       "FACTS: Europol 2016, 2.2 % of proceeds frozen", "Share of a group's assets frozen by a financial investigation."),
    _p("finance.confiscated_share", 0.5, 0.0, 1.0, "share of frozen",
       "FACTS: Europol 2016, 1.1 % confiscated of 2.2 % frozen", "Share of frozen assets finally confiscated."),
    _p("finance.confiscation_lag", 18.0, 1.0, 60.0, "months", A + "a verdict before confiscation",
       "Mean months from freezing to the confiscation decision."),
    # --- levers: effect sizes and unit costs ------------------------------
    _p("lever.users.cost_per_suspect_eur", 3000.0, 500.0, 20000.0, "EUR per user suspect",
       A + "police time to identify and question a buyer", "Cost of investigating one user suspect."),
    _p("lever.users.cost_per_prosecution_eur", 2500.0, 500.0, 20000.0, "EUR per prosecution",
       A + "prosecutor and court time for a summary case", "Cost of prosecuting one user."),
    _p("lever.finance.max_freeze_share", 0.6, 0.25, 1.0, "share of assets",
       A + "a thorough financial investigation still misses hidden and foreign assets",
       "Share of a group's assets that a fully resourced financial investigation freezes."),
    _p("lever.finance.cost_per_investigation_eur", 20000.0, 5000.0, 100000.0, "EUR per financial investigation",
       A + "two to three investigator-months", "Cost of one financial investigation."),
    _p("lever.inspect.risk_based_gain", 90.0, 50.0, 170.0, "hit-rate gain over random checks",
       "FACTS: EMPACT action days found 0.4-1.3 % possible victims per person checked; at the model's prevalence "
       "of labour victims among high-risk workers (about 0.02 %) and recognition 0.35 that is a gain of 50-170",
       "How much likelier a risk-based (intelligence-led) check meets a victim than a random one."),
    _p("lever.inspect.cost_per_check_eur", 60.0, 20.0, 300.0, "EUR per worker checked",
       A + "an inspection visit costs a few hundred euro and checks about ten workers",
       "Cost of checking one worker."),
    _p("lever.referral.cooperation_effect", 0.1, 0.0, 0.3, "relative rise per unit of intensity",
       A + "report 3.2: identified and supported victims cooperate more with prosecution",
       "Rise of prosecution and conviction rates when the referral mechanism's capacity doubles."),
    _p("lever.referral.retrafficking_effect", 0.3, 0.0, 0.8, "relative fall per unit of intensity",
       A + "earlier identification and support lower re-trafficking (IOM)",
       "Fall of re-trafficking when the referral mechanism's capacity doubles."),
    _p("lever.referral.cost_per_identification_eur", 10000.0, 2000.0, 50000.0, "EUR per extra identification",
       A + "outreach, interviews, referral and first assistance", "Cost of one identification the lever adds."),
    _p("lever.jit.effect", 0.3, 0.0, 1.0, "relative rise for a fully cross-border case",
       A + "report 3.1: joint investigation teams improve evidence gathering across borders",
       "Rise of prosecution and conviction rates of cross-border cases worked by a joint investigation team."),
    _p("lever.jit.cost_per_case_eur", 60000.0, 10000.0, 300000.0, "EUR per case",
       A + "Eurojust funding of a joint investigation team, travel and translation",
       "Cost of working one cross-border case in a joint investigation team."),
    _p("lever.online.hazard_per_analyst", 0.002, 0.0002, 0.01, "per month per analyst per million inhabitants",
       A + "report 2.5: monitoring of advertising and recruitment online",
       "Identification hazard of online-recruited victims added by one analyst per million inhabitants."),
    _p("lever.online.cost_per_analyst_month_eur", 6000.0, 3000.0, 15000.0, "EUR per analyst-month",
       A + "salary and tools", "Cost of one analyst for a month."),
    _p("lever.prevention.effect", 0.3, 0.0, 0.6, "relative fall of recruitment success",
       A + "awareness campaigns evaluations report modest effects; uncertain",
       "Fall of recruitment success among people reached by a campaign."),
    _p("lever.prevention.cost_per_person_eur", 10.0, 1.0, 100.0, "EUR per person reached",
       A + "outreach and campaign cost per person at risk reached", "Cost of reaching one person at risk."),
    _p("lever.support.retrafficking_effect", 0.5, 0.0, 0.9, "relative fall at full intensity",
       "FACTS: IOM, re-trafficking is rare among assisted victims and highest for under-18s",
       "Fall of re-trafficking of supported victims."),
    _p("lever.support.health_effect", 0.2, 0.0, 0.5, "relative fall at full intensity",
       A + "shelters and care lower later health and social costs", "Fall of health and social costs per victim."),
    _p("lever.support.cooperation_effect", 0.1, 0.0, 0.3, "relative rise at full intensity",
       A + "non-punishment and compensation raise cooperation with prosecution",
       "Rise of prosecution and conviction rates."),
    _p("lever.support.cost_per_victim_month_eur", 1500.0, 500.0, 5000.0, "EUR per supported victim-month",
       A + "shelter, legal and psychological help", "Cost of improved support for one victim for a month."),
    _p("lever.downturn.vulnerability", 0.5, 0.0, 2.0, "relative rise at full severity",
       "FACTS: report, Introduction: COVID-19 makes people more vulnerable", "Rise of the at-risk pools."),
    _p("lever.downturn.labour_demand", 0.3, 0.0, 1.0, "relative rise at full severity",
       "FACTS: report, Introduction: more demand for cheap and illegal labour", "Rise of employers' demand for forced labour."),
    _p("lever.downturn.online_shift", 0.3, 0.0, 0.6, "share points at full severity",
       "FACTS: report, Introduction: victims advertised online and exploited in private premises",
       "Rise of the online share of recruitment; police visibility falls by the same share."),
    _p("lever.downturn.identification_delay", 0.4, 0.0, 0.8, "relative fall at full severity",
       "FACTS: report, Introduction: delays in identifying victims", "Fall of referral and inspection capacity."),
    # --- social cost (EUR 2016) ------------------------------------------
    _p("cost.share_coordination", 0.02, 0.0, 0.2, "share of the study's total",
       A + "the study names six categories but no amounts; see docs/data.md", "Coordination and prevention."),
    _p("cost.share_law_enforcement", 0.06, 0.0, 0.3, "share of the study's total", A + "see docs/data.md",
       "Law enforcement (police, prosecution, courts)."),
    _p("cost.share_victim_services", 0.05, 0.0, 0.3, "share of the study's total", A + "see docs/data.md",
       "Specialised victim services."),
    _p("cost.share_health_social", 0.08, 0.0, 0.3, "share of the study's total", A + "see docs/data.md",
       "Health and social protection."),
    _p("cost.share_lost_output", 0.19, 0.0, 0.5, "share of the study's total", A + "see docs/data.md",
       "Lost economic output."),
    _p("cost.share_quality_of_life", 0.60, 0.2, 0.9, "share of the study's total",
       "FACTS: UK Home Office 2018, physical and emotional harm the largest part", "Lost quality of life."),
)

PARAMS: Mapping[str, Param] = MappingProxyType({p.name: p for p in PARAMETERS})


class ParamSet(Mapping[str, float]):
    """Immutable values for every declared parameter; unknown or out-of-range values are refused."""

    __slots__ = ("_values",)

    def __init__(self, overrides: Mapping[str, float] | None = None) -> None:
        values = {p.name: p.default for p in PARAMETERS}
        for key, value in (overrides or {}).items():
            values[key] = check_value(key, value)
        self._values = values

    def replace(self, **changes: float) -> ParamSet:
        merged = dict(self._values)
        merged.update(changes)
        return ParamSet(merged)

    def overrides(self) -> dict[str, float]:
        """The values that differ from the defaults."""
        return {k: v for k, v in self._values.items() if v != PARAMS[k].default}

    def __getitem__(self, key: str) -> float:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParamSet) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._values.items())))

    def __repr__(self) -> str:
        return f"ParamSet({self.overrides()})"


def check_value(key: str, value: object) -> float:
    """Validate one parameter value, with an error that names key, value and what is allowed."""
    if key not in PARAMS:
        from difflib import get_close_matches

        close = get_close_matches(key, PARAMS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown parameter {key!r}{hint}")
    p = PARAMS[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"parameter {key!r}: expected a number ({p.unit}), got {value!r} ({type(value).__name__})")
    if not p.low <= float(value) <= p.high:
        raise ValueError(f"parameter {key!r}: {value!r} is outside its range [{p.low:g}, {p.high:g}] ({p.unit})")
    return float(value)
