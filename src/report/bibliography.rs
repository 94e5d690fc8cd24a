//! The bibliography: every source string a claim names, resolved to references with an arXiv id,
//! a DOI or a URL.
//!
//! [`SOURCES`] maps each source string used by the registry ([`crate::claims::all`]) to the keys
//! of its [`Reference`]s; a source that is not a publication (a derivation in this crate's own
//! proof files, a named folklore result, trainer issue threads) maps to no key and says so in
//! its note. `tests` below check that every claim's every source resolves, so a claim added with
//! a new source string fails until the string is entered here.
//!
//! Identifiers are entered only where they were confirmed against the publication's own listing;
//! a reference with none carries [`Reference::note`] saying so.

/// What kind of BibTeX entry a reference is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A journal article (`@article`, `venue` is the journal).
    Article,
    /// A book (`@book`, `venue` is the publisher).
    Book,
    /// A preprint, a blog post or a forum post (`@misc`, `venue` is `howpublished`).
    Misc,
}

/// One bibliographic reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    /// The BibTeX key.
    pub key: &'static str,
    /// Entry type.
    pub kind: Kind,
    /// Authors in BibTeX form (`Last, First and Last, First`; `and others` where the list was
    /// not confirmed in full).
    pub author: &'static str,
    /// Title, as published.
    pub title: &'static str,
    /// Year of the version cited.
    pub year: u16,
    /// Journal, publisher, or where a preprint or post appeared.
    pub venue: Option<&'static str>,
    /// arXiv identifier (`2205.11275`).
    pub arxiv: Option<&'static str>,
    /// DOI (`10.1002/...`).
    pub doi: Option<&'static str>,
    /// A stable URL, for references with neither an arXiv id nor a DOI.
    pub url: Option<&'static str>,
    /// A remark printed with the reference (e.g. why no identifier is given).
    pub note: Option<&'static str>,
}

const NO_ID: &str = "no stable identifier confirmed; cited by author, title and date";

/// Every reference, sorted by key.
pub const REFERENCES: &[Reference] = &[
    Reference {
        key: "amini2024variational",
        kind: Kind::Misc,
        author: "Amini, Afra and Vieira, Tim and Cotterell, Ryan",
        title: "Variational Best-of-N Alignment",
        year: 2024,
        venue: Some("arXiv preprint"),
        arxiv: Some("2407.06057"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "amini2025better",
        kind: Kind::Misc,
        author: "Amini, Afra and Vieira, Tim and Cotterell, Ryan",
        title: "Better Estimation of the Kullback-Leibler Divergence Between Language Models",
        year: 2025,
        venue: Some("arXiv preprint"),
        arxiv: Some("2504.10637"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "azar2023general",
        kind: Kind::Misc,
        author: "Azar, Mohammad Gheshlaghi and others",
        title: "A General Theoretical Paradigm to Understand Learning from Human Preferences",
        year: 2023,
        venue: Some("arXiv preprint"),
        arxiv: Some("2310.12036"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "balashankar2024infalign",
        kind: Kind::Misc,
        author: "Balashankar, Ananth and others",
        title: "InfAlign: Inference-aware language model alignment",
        year: 2024,
        venue: Some("arXiv preprint"),
        arxiv: Some("2412.19792"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "beirami2024theoretical",
        kind: Kind::Misc,
        author: "Beirami, Ahmad and Agarwal, Alekh and Berant, Jonathan and D'Amour, Alexander \
                 and Eisenstein, Jacob and Nagpal, Chirag and Suresh, Ananda Theertha",
        title: "Theoretical guarantees on the best-of-n alignment policy",
        year: 2024,
        venue: Some("arXiv preprint"),
        arxiv: Some("2401.01879"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "boucheron2013concentration",
        kind: Kind::Book,
        author: "Boucheron, Stéphane and Lugosi, Gábor and Massart, Pascal",
        title: "Concentration Inequalities: A Nonasymptotic Theory of Independence",
        year: 2013,
        venue: Some("Oxford University Press"),
        arxiv: None,
        doi: Some("10.1093/acprof:oso/9780199535255.001.0001"),
        url: None,
        note: None,
    },
    Reference {
        key: "deepseek2025v32",
        kind: Kind::Misc,
        author: "{DeepSeek-AI}",
        title: "DeepSeek-V3.2: Pushing the Frontier of Open Large Language Models",
        year: 2025,
        venue: Some("arXiv preprint"),
        arxiv: Some("2512.02556"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "donsker1975asymptotic",
        kind: Kind::Article,
        author: "Donsker, M. D. and Varadhan, S. R. S.",
        title: "Asymptotic evaluation of certain Markov process expectations for large time, I",
        year: 1975,
        venue: Some("Communications on Pure and Applied Mathematics"),
        arxiv: None,
        doi: Some("10.1002/cpa.3160280102"),
        url: None,
        note: None,
    },
    Reference {
        key: "gao2022scaling",
        kind: Kind::Misc,
        author: "Gao, Leo and Schulman, John and Hilton, Jacob",
        title: "Scaling Laws for Reward Model Overoptimization",
        year: 2022,
        venue: Some("arXiv preprint"),
        arxiv: Some("2210.10760"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "gui2024bonbon",
        kind: Kind::Misc,
        author: "Gui, Lin and others",
        title: "BoNBoN Alignment for Large Language Models and the Sweetness of Best-of-n Sampling",
        year: 2024,
        venue: Some("arXiv preprint"),
        arxiv: Some("2406.00832"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "gxchen2025klregularized",
        kind: Kind::Misc,
        author: "{GX-Chen}, Anthony and Prakash, Jatin and Guo, Jeff and Fergus, Rob \
                 and Ranganath, Rajesh",
        title: "KL-Regularized Reinforcement Learning is Designed to Mode Collapse",
        year: 2025,
        venue: Some("arXiv preprint"),
        arxiv: Some("2510.20817"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "huang2024correcting",
        kind: Kind::Misc,
        author: "Huang, Audrey and others",
        title: "Correcting the Mythos of KL-Regularization: Direct Alignment without \
                Overoptimization via Chi-Squared Preference Optimization",
        year: 2024,
        venue: Some("arXiv preprint"),
        arxiv: Some("2407.13399"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "hughes2024bestofn",
        kind: Kind::Misc,
        author: "Hughes, John and others",
        title: "Best-of-N Jailbreaking",
        year: 2024,
        venue: Some("arXiv preprint"),
        arxiv: Some("2412.03556"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "korbak2022rl",
        kind: Kind::Misc,
        author: "Korbak, Tomasz and Perez, Ethan and Buckley, Christopher L.",
        title: "RL with KL penalties is better viewed as Bayesian inference",
        year: 2022,
        venue: Some("arXiv preprint"),
        arxiv: Some("2205.11275"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "kwa2024catastrophic",
        kind: Kind::Misc,
        author: "Kwa, Thomas and Thomas, Drake and Garriga-Alonso, Adrià",
        title: "Catastrophic Goodhart: regularizing RLHF with KL divergence does not mitigate \
                heavy-tailed reward misspecification",
        year: 2024,
        venue: Some("arXiv preprint"),
        arxiv: Some("2407.14503"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "liu2025rethinking",
        kind: Kind::Misc,
        author: "Liu, Kezhao and others",
        title: "Rethinking KL Regularization in RLHF: From Value Estimation to Gradient \
                Optimization",
        year: 2025,
        venue: Some("arXiv preprint"),
        arxiv: Some("2510.01555"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "manheim2018categorizing",
        kind: Kind::Misc,
        author: "Manheim, David and Garrabrant, Scott",
        title: "Categorizing Variants of Goodhart's Law",
        year: 2018,
        venue: Some("arXiv preprint"),
        arxiv: Some("1803.04585"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "mroueh2024information",
        kind: Kind::Misc,
        author: "Mroueh, Youssef",
        title: "Information Theoretic Guarantees For Policy Alignment In Large Language Models",
        year: 2024,
        venue: Some("arXiv preprint"),
        arxiv: Some("2406.05883"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "nakano2021webgpt",
        kind: Kind::Misc,
        author: "Nakano, Reiichiro and others",
        title: "WebGPT: Browser-assisted question-answering with human feedback",
        year: 2021,
        venue: Some("arXiv preprint"),
        arxiv: Some("2112.09332"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "rafailov2023direct",
        kind: Kind::Misc,
        author: "Rafailov, Rafael and others",
        title: "Direct Preference Optimization: Your Language Model is Secretly a Reward Model",
        year: 2023,
        venue: Some("arXiv preprint"),
        arxiv: Some("2305.18290"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "razin2024unintentional",
        kind: Kind::Misc,
        author: "Razin, Noam and others",
        title: "Unintentional Unalignment: Likelihood Displacement in Direct Preference \
                Optimization",
        year: 2024,
        venue: Some("arXiv preprint"),
        arxiv: Some("2410.08847"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "schaeffer2025monkeys",
        kind: Kind::Misc,
        author: "Schaeffer, Rylan and others",
        title: "How Do Large Language Monkeys Get Their Power (Laws)?",
        year: 2025,
        venue: Some("arXiv preprint"),
        arxiv: Some("2502.17578"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "schulman2020approximating",
        kind: Kind::Misc,
        author: "Schulman, John",
        title: "Approximating KL Divergence",
        year: 2020,
        venue: Some("blog post"),
        arxiv: None,
        doi: None,
        url: Some("http://joschu.net/blog/kl-approx.html"),
        note: None,
    },
    Reference {
        key: "segerie2023compendium",
        kind: Kind::Misc,
        author: "Segerie, Charbel-Raphaël",
        title: "Compendium of problems with RLHF",
        year: 2023,
        venue: Some("LessWrong"),
        arxiv: None,
        doi: None,
        url: Some(
            "https://www.lesswrong.com/posts/d6DvuCKH5bSoT62DB/compendium-of-problems-with-rlhf",
        ),
        note: None,
    },
    Reference {
        key: "shah2025comedy",
        kind: Kind::Misc,
        author: "Shah, Vedant and others",
        title: "A Comedy of Estimators: On KL Regularization in RL Training of LLMs",
        year: 2025,
        venue: Some("arXiv preprint"),
        arxiv: Some("2512.21852"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "shao2024deepseekmath",
        kind: Kind::Misc,
        author: "Shao, Zhihong and others",
        title: "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language \
                Models",
        year: 2024,
        venue: Some("arXiv preprint"),
        arxiv: Some("2402.03300"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "shlegeris2022disambiguate",
        kind: Kind::Misc,
        author: "Shlegeris, Buck",
        title: "Trying to disambiguate different questions about whether RLHF is ``good''",
        year: 2022,
        venue: Some("AI Alignment Forum / LessWrong, December 2022, with its comment threads"),
        arxiv: None,
        doi: None,
        url: None,
        note: Some(NO_ID),
    },
    Reference {
        key: "steiner2022take13",
        kind: Kind::Misc,
        author: "Steiner, Charlie",
        title: "Take 13: RLHF bad, conditioning good",
        year: 2022,
        venue: Some("AI Alignment Forum, December 2022, with comments"),
        arxiv: None,
        doi: None,
        url: None,
        note: Some(NO_ID),
    },
    Reference {
        key: "stiennon2020learning",
        kind: Kind::Misc,
        author: "Stiennon, Nisan and others",
        title: "Learning to summarize from human feedback",
        year: 2020,
        venue: Some("arXiv preprint"),
        arxiv: Some("2009.01325"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "tailcalled2024dpo",
        kind: Kind::Misc,
        author: "{tailcalled}",
        title: "DPO/PPO-RLHF on LLMs incentivizes sycophancy, exaggeration and deceptive \
                hallucination, but not misaligned powerseeking",
        year: 2024,
        venue: Some("LessWrong, 2024-06-10, with comments"),
        arxiv: None,
        doi: None,
        url: None,
        note: Some(NO_ID),
    },
    Reference {
        key: "tang2025pitfalls",
        kind: Kind::Misc,
        author: "Tang, Yunhao and Munos, Rémi",
        title: "On a few pitfalls in KL divergence gradient estimation for RL",
        year: 2025,
        venue: Some("arXiv preprint"),
        arxiv: Some("2506.09477"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "taylor2016quantilizers",
        kind: Kind::Misc,
        author: "Taylor, Jessica",
        title: "Quantilizers: A Safer Alternative to Maximizers for Limited Optimization",
        year: 2016,
        venue: Some("AAAI Workshop on AI, Ethics, and Society"),
        arxiv: None,
        doi: None,
        url: Some("https://intelligence.org/files/QuantilizersSaferAlternative.pdf"),
        note: None,
    },
    Reference {
        key: "thomas2023goodhart",
        kind: Kind::Misc,
        author: "Thomas, Drake and Kwa, Thomas",
        title: "When is Goodhart catastrophic?",
        year: 2023,
        venue: Some("AI Alignment Forum / LessWrong, with its comment thread"),
        arxiv: None,
        doi: None,
        url: Some(
            "https://www.lesswrong.com/posts/fuSaKr6t6Zuh6GKaQ/when-is-goodhart-catastrophic",
        ),
        note: None,
    },
    Reference {
        key: "verdun2025soft",
        kind: Kind::Misc,
        author: "Verdun and others",
        title: "Soft Best-of-n Sampling for Model Alignment",
        year: 2025,
        venue: Some("arXiv preprint"),
        arxiv: Some("2505.03156"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "vojnovic2025grpo",
        kind: Kind::Misc,
        author: "Vojnovic, Milan and Yun, Se-Young",
        title: "What is the Alignment Objective of GRPO?",
        year: 2025,
        venue: Some("arXiv preprint"),
        arxiv: Some("2502.18548"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "wang2023beyond",
        kind: Kind::Misc,
        author: "Wang, Chaoqi and others",
        title: "Beyond Reverse KL: Generalizing Direct Preference Optimization with Diverse \
                Divergence Constraints",
        year: 2023,
        venue: Some("arXiv preprint"),
        arxiv: Some("2309.16240"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "xu2024dpo",
        kind: Kind::Misc,
        author: "Xu, Shusheng and others",
        title: "Is DPO Superior to PPO for LLM Alignment? A Comprehensive Study",
        year: 2024,
        venue: Some("arXiv preprint"),
        arxiv: Some("2404.10719"),
        doi: None,
        url: None,
        note: None,
    },
    Reference {
        key: "zhuang2020consequences",
        kind: Kind::Misc,
        author: "Zhuang, Simon and Hadfield-Menell, Dylan",
        title: "Consequences of Misaligned AI",
        year: 2020,
        venue: Some("arXiv preprint (NeurIPS 2020)"),
        arxiv: Some("2102.03896"),
        doi: None,
        url: None,
        note: None,
    },
];

/// How one source string of the registry resolves.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    /// The source string exactly as a claim names it.
    pub source: &'static str,
    /// Keys into [`REFERENCES`]; empty for a source that is not a publication.
    pub keys: &'static [&'static str],
    /// For a source with no key: what it is.
    pub note: Option<&'static str>,
}

const fn cites(source: &'static str, keys: &'static [&'static str]) -> Source {
    Source {
        source,
        keys,
        note: None,
    }
}

const fn unpublished(source: &'static str, note: &'static str) -> Source {
    Source {
        source,
        keys: &[],
        note: Some(note),
    }
}

const S0: &[&str] = &["shlegeris2022disambiguate"];
const S2: &[&str] = &["steiner2022take13"];
const S3: &[&str] = &["tailcalled2024dpo"];
const S4: &[&str] = &["segerie2023compendium"];
const BEIRAMI: &[&str] = &["beirami2024theoretical"];
const GAO: &[&str] = &["gao2022scaling"];
const GUI: &[&str] = &["gui2024bonbon"];
const GX_CHEN: &[&str] = &["gxchen2025klregularized"];
const KWA: &[&str] = &["kwa2024catastrophic"];
const DV: &[&str] = &["donsker1975asymptotic"];
const SHAO: &[&str] = &["shao2024deepseekmath"];
const VOJNOVIC: &[&str] = &["vojnovic2025grpo"];
const TRAINERS: &str = "open-source RLHF trainers' issue threads and source code; no single \
                        publication";

/// Every source string of the registry, with its references. A source of the form
/// `derivation in proofs/<id>.md` is resolved by [`resolve`] without an entry here.
pub const SOURCES: &[Source] = &[
    cites(
        "Amini et al. 2024 (arXiv:2407.06057)",
        &["amini2024variational"],
    ),
    cites(
        "Amini, Vieira & Cotterell 2025 (arXiv:2504.10637)",
        &["amini2025better"],
    ),
    cites("Azar et al. 2023", &["azar2023general"]),
    cites(
        "Balashankar et al. 2024 (InfAlign, arXiv:2412.19792)",
        &["balashankar2024infalign"],
    ),
    cites("Beirami et al. 2024", BEIRAMI),
    cites("Beirami et al. 2024 (Conjecture 4.4)", BEIRAMI),
    cites(
        "Beirami et al. 2024 (Thm 3.4, as read from secondary notes)",
        BEIRAMI,
    ),
    cites("Beirami et al. 2024 (Thm 5.3)", BEIRAMI),
    cites("Beirami et al. 2024-25 discussion", BEIRAMI),
    cites(
        "DeepSeek-V3.2 report (unbiased KL estimate)",
        &["deepseek2025v32"],
    ),
    cites("Donsker & Varadhan 1975", DV),
    cites(
        "Donsker & Varadhan 1975; transportation inequalities (Boucheron, Lugosi & Massart 2013)",
        &["donsker1975asymptotic", "boucheron2013concentration"],
    ),
    cites("GX-Chen et al. 2025 (arXiv:2510.20817)", GX_CHEN),
    cites("Gao et al. 2022", GAO),
    cites(
        "Gao, Schulman & Hilton 2022, Scaling Laws for Reward Model Overoptimization",
        GAO,
    ),
    unpublished(
        "Gibbs variational principle",
        "a classical result (the Gibbs variational principle); proved in the claim's proof file",
    ),
    cites("Gui et al. 2024", GUI),
    cites("Gui et al. 2024 (BoNBoN, arXiv:2406.00832)", GUI),
    cites("Gui et al. 2024 (arXiv:2406.00832)", GUI),
    cites(
        "Huang et al. 2024 (arXiv:2407.13399)",
        &["huang2024correcting"],
    ),
    cites(
        "Hughes et al. 2024 (best-of-N jailbreaking)",
        &["hughes2024bestofn"],
    ),
    cites("Korbak, Perez & Buckley 2022", &["korbak2022rl"]),
    cites(
        "Kwa, Thomas & Garriga-Alonso 2024, Catastrophic Goodhart",
        KWA,
    ),
    cites(
        "Kwa, Thomas & Garriga-Alonso 2024, Catastrophic Goodhart, Theorem 1",
        KWA,
    ),
    cites("Liu et al. 2025 (arXiv:2510.01555)", &["liu2025rethinking"]),
    cites(
        "Manheim & Garrabrant 2018, Categorizing Variants of Goodhart's Law",
        &["manheim2018categorizing"],
    ),
    cites("Mroueh 2024 (arXiv:2406.05883)", &["mroueh2024information"]),
    cites("Nakano et al. 2021", &["nakano2021webgpt"]),
    cites("Rafailov et al. 2023", &["rafailov2023direct"]),
    cites(
        "Razin et al. 2024 (arXiv:2410.08847)",
        &["razin2024unintentional"],
    ),
    cites(
        "Schaeffer et al. 2025 (arXiv:2502.17578)",
        &["schaeffer2025monkeys"],
    ),
    cites(
        "Schulman 2020, \"Approximating KL divergence\"",
        &["schulman2020approximating"],
    ),
    cites("Shah et al. 2025 (arXiv:2512.21852)", &["shah2025comedy"]),
    cites("Shao et al. 2024, DeepSeekMath (GRPO)", SHAO),
    cites("Stiennon et al. 2020", &["stiennon2020learning"]),
    cites(
        "Tang & Munos 2025 (arXiv:2506.09477)",
        &["tang2025pitfalls"],
    ),
    cites("Taylor 2016", &["taylor2016quantilizers"]),
    cites(
        "Thomas & Kwa 2023, \"When is Goodhart catastrophic?\" (comment thread)",
        &["thomas2023goodhart"],
    ),
    cites("Verdun et al. 2025 (arXiv:2505.03156)", &["verdun2025soft"]),
    cites("Vojnovic & Yun 2025 (arXiv:2502.18548)", VOJNOVIC),
    cites(
        "Vojnovic & Yun 2025, \"What is the alignment objective of GRPO?\" (arXiv:2502.18548)",
        VOJNOVIC,
    ),
    cites("Wang et al. 2023 (f-DPO)", &["wang2023beyond"]),
    cites("Xu et al. 2024 (arXiv:2404.10719)", &["xu2024dpo"]),
    cites(
        "Zhuang & Hadfield-Menell 2020, Consequences of Misaligned AI",
        &["zhuang2020consequences"],
    ),
    cites("[S0] Shlegeris 2022", S0),
    cites("[S0] Shlegeris 2022 (Gaussian example)", S0),
    cites("[S0] Shlegeris 2022 (Lagrange-multiplier remark)", S0),
    cites("[S0] Shlegeris 2022 (MaxEnt RL remark)", S0),
    cites("[S0] Shlegeris 2022 (capability-limited architecture)", S0),
    cites("[S0] Shlegeris 2022 (comment by davidad)", S0),
    cites(
        "[S0] Shlegeris 2022 (comment thread on causal Goodhart)",
        S0,
    ),
    cites(
        "[S0] Shlegeris 2022 (further assumptions on the joint distribution are needed)",
        S0,
    ),
    cites(
        "[S0] Shlegeris 2022 (lexicographic objective; \"increase the KL penalty\")",
        S0,
    ),
    cites("[S0] Shlegeris 2022 (nonzero-logit argument)", S0),
    cites(
        "[S0] Shlegeris 2022, comment thread (30 nats vs best-of-exp(30))",
        S0,
    ),
    cites(
        "[S0] Shlegeris 2022, comment thread (text-davinci-003 remark)",
        S0,
    ),
    cites("[S0] comment by Lawrence Chan", S0),
    cites("[S0] comments by Neyman and Thomas (reconstruction)", S0),
    cites("[S2]", S2),
    cites("[S2] (discussion)", S2),
    cites("[S2] Steiner 2022", S2),
    cites("[S2] Steiner 2022 (comments)", S2),
    cites("[S3] tailcalled 2024", S3),
    cites("[S3] tailcalled 2024 (comment on odds ratios)", S3),
    cites("[S4] Segerie 2023 (mode collapse)", S4),
    cites(
        "[S4] Segerie 2023 (the KL coefficient \"feels arbitrary\")",
        S4,
    ),
    cites("common reading of Shao et al. 2024 (DeepSeekMath)", SHAO),
    cites(
        "contrast: Gao et al. 2022 (trained RL policies sit at larger KL than BoN)",
        GAO,
    ),
    unpublished(
        "convex duality",
        "standard convex duality; the argument is in the claim's proof file",
    ),
    unpublished(
        "folklore",
        "a widely repeated statement with no single published origin",
    ),
    cites("refuted by Beirami et al. 2024", BEIRAMI),
    cites("reproductions of Gao et al. 2022", GAO),
    unpublished(
        "the forward-KL case of pref.fdiv",
        "another claim of this crate (pref.fdiv)",
    ),
    unpublished("trainer issue threads on KL placement", TRAINERS),
    unpublished("trainer issue threads on k2/k3 gradients", TRAINERS),
    unpublished("trainer issue threads on negative KL estimates", TRAINERS),
    unpublished("trainer source code (log-ratio clamping)", TRAINERS),
];

/// The reference with key `key`.
pub fn reference(key: &str) -> Option<&'static Reference> {
    REFERENCES.iter().find(|r| r.key == key)
}

/// How `source` resolves, or `None` when it is not entered in [`SOURCES`] (a source of the form
/// `derivation in proofs/<id>.md` resolves to a note pointing at this crate's proof file).
pub fn resolve(source: &str) -> Option<Source> {
    if let Some(s) = SOURCES.iter().find(|s| s.source == source) {
        return Some(*s);
    }
    if source.starts_with("derivation in proofs/") && source.ends_with(".md") {
        return Some(Source {
            source: "derivation in proofs/<id>.md",
            keys: &[],
            note: Some("a derivation in this crate's proof file"),
        });
    }
    None
}

/// The references cited by `sources`, each once, in order of first citation; unknown sources
/// and unknown keys are skipped (the tests make sure there are none).
pub fn references_for(sources: &[&str]) -> Vec<&'static Reference> {
    let mut out: Vec<&'static Reference> = Vec::new();
    for s in sources {
        for key in resolve(s).map_or(&[][..], |r| r.keys) {
            if let Some(r) = reference(key) {
                if !out.iter().any(|o| o.key == r.key) {
                    out.push(r);
                }
            }
        }
    }
    out
}

impl Reference {
    /// The reference's link: the arXiv abstract page, else the DOI resolver, else its URL.
    pub fn link(&self) -> Option<String> {
        if let Some(a) = self.arxiv {
            Some(format!("https://arxiv.org/abs/{a}"))
        } else if let Some(d) = self.doi {
            Some(format!("https://doi.org/{d}"))
        } else {
            self.url.map(str::to_string)
        }
    }

    /// The identifier as a reader would cite it: `arXiv:2205.11275`, `doi:10...`, or the URL.
    pub fn identifier(&self) -> Option<String> {
        if let Some(a) = self.arxiv {
            Some(format!("arXiv:{a}"))
        } else if let Some(d) = self.doi {
            Some(format!("doi:{d}"))
        } else {
            self.url.map(str::to_string)
        }
    }

    /// Authors for display: `First Last, First Last and Last`, with `et al.` for `and others`
    /// and the BibTeX protecting braces removed.
    pub fn authors_display(&self) -> String {
        let names: Vec<String> = self
            .author
            .split(" and ")
            .map(|a| {
                let a = a.replace(['{', '}'], "");
                match a.split_once(", ") {
                    Some((last, first)) => format!("{first} {last}"),
                    None => a,
                }
            })
            .collect();
        match names.split_last() {
            Some((last, rest)) if last == "others" => format!("{} et al.", rest.join(", ")),
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }

    /// Authors (year). Title. Venue.
    pub fn head(&self) -> String {
        let mut s = format!(
            "{} ({}). {}.",
            self.authors_display(),
            self.year,
            self.title.replace("``", "\"").replace("''", "\"")
        );
        if let Some(v) = self.venue {
            s.push_str(&format!(" {v}."));
        }
        s
    }

    /// One line: [`Reference::head`], then the identifier (or the note saying why none).
    pub fn text(&self) -> String {
        match (self.identifier(), self.note) {
            (Some(id), _) => format!("{} {id}", self.head()),
            (None, Some(n)) => format!("{} ({n})", self.head()),
            (None, None) => self.head(),
        }
    }

    /// The BibTeX entry (ASCII: accented letters are written as TeX accents).
    pub fn bibtex(&self) -> String {
        let kind = match self.kind {
            Kind::Article => "article",
            Kind::Book => "book",
            Kind::Misc => "misc",
        };
        let mut fields: Vec<(&str, String)> = vec![
            ("author", tex_accents(self.author)),
            ("title", format!("{{{}}}", tex_accents(self.title))),
            ("year", self.year.to_string()),
        ];
        if let Some(v) = self.venue {
            let name = match self.kind {
                Kind::Article => "journal",
                Kind::Book => "publisher",
                Kind::Misc => "howpublished",
            };
            fields.push((name, tex_accents(v)));
        }
        if let Some(a) = self.arxiv {
            fields.push(("eprint", a.to_string()));
            fields.push(("archivePrefix", "arXiv".to_string()));
        }
        if let Some(d) = self.doi {
            fields.push(("doi", d.to_string()));
        }
        if let Some(l) = self.link() {
            fields.push(("url", l));
        }
        if let Some(n) = self.note {
            fields.push(("note", n.to_string()));
        }
        bibtex_entry(kind, self.key, &fields)
    }
}

/// A BibTeX entry from its type, key and fields (values are braced; the caller keeps them
/// brace-balanced).
pub fn bibtex_entry(kind: &str, key: &str, fields: &[(&str, String)]) -> String {
    let mut s = format!("@{kind}{{{key},\n");
    for (name, value) in fields {
        s.push_str(&format!("  {name} = {{{value}}},\n"));
    }
    s.push_str("}\n");
    s
}

/// Unicode letters used in the references, written as TeX accent commands.
fn tex_accents(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            'é' => out.push_str("{\\'e}"),
            'á' => out.push_str("{\\'a}"),
            'à' => out.push_str("{\\`a}"),
            'ë' => out.push_str("{\\\"e}"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_claim_source_resolves_to_known_references() {
        for c in crate::claims::all() {
            for s in c.sources {
                let r = resolve(s).unwrap_or_else(|| {
                    panic!(
                        "{}: source {s:?} has no entry in report::bibliography",
                        c.id
                    )
                });
                assert!(
                    !r.keys.is_empty() || r.note.is_some(),
                    "{}: source {s:?} resolves to neither a reference nor a note",
                    c.id
                );
                for k in r.keys {
                    assert!(reference(k).is_some(), "{s:?}: unknown key {k}");
                }
            }
        }
    }

    #[test]
    fn every_reference_is_cited_and_identified_or_marked() {
        let claims = crate::claims::all();
        let cited: Vec<&str> = claims
            .iter()
            .flat_map(|c| references_for(c.sources))
            .map(|r| r.key)
            .collect();
        let mut keys: Vec<&str> = REFERENCES.iter().map(|r| r.key).collect();
        let sorted = {
            let mut k = keys.clone();
            k.sort_unstable();
            k
        };
        assert_eq!(keys, sorted, "REFERENCES must be sorted by key");
        keys.dedup();
        assert_eq!(keys.len(), REFERENCES.len(), "duplicate keys");
        for r in REFERENCES {
            assert!(cited.contains(&r.key), "{} is cited by no claim", r.key);
            assert!(
                r.identifier().is_some() || r.note.is_some(),
                "{} has no identifier and does not say why",
                r.key
            );
        }
    }

    #[test]
    fn bibtex_is_ascii_and_parses() {
        for r in REFERENCES {
            let b = r.bibtex();
            assert!(b.is_ascii(), "{}: non-ASCII BibTeX", r.key);
            let entries = super::super::bibtex_check::parse(&b)
                .unwrap_or_else(|e| panic!("{}: {e}\n{b}", r.key));
            assert_eq!(entries.len(), 1);
            assert_eq!(entries[0].key, r.key);
        }
    }

    #[test]
    fn authors_display_reads_naturally() {
        let r = reference("korbak2022rl").map(Reference::authors_display);
        assert_eq!(
            r.as_deref(),
            Some("Tomasz Korbak, Ethan Perez and Christopher L. Buckley")
        );
        let r = reference("gui2024bonbon").map(Reference::authors_display);
        assert_eq!(r.as_deref(), Some("Lin Gui et al."));
    }
}
