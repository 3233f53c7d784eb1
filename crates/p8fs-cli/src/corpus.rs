//! The demo's sample corpus: 30 topics of an imaginary engineering organisation, each
//! written up as 10 kinds of document (300 resources). Written for p8fs; nothing is
//! downloaded.

/// One topic: a name stem, a title, a category and what its documents talk about.
struct Topic {
    slug: &'static str,
    title: &'static str,
    category: &'static str,
    facts: [&'static str; 3],
}

const TOPICS: [Topic; 30] = [
    Topic {
        slug: "tls-certificates",
        title: "TLS certificates",
        category: "security",
        facts: [
            "Certificates for every public endpoint are issued by the internal certificate authority and rotated every sixty days.",
            "Rotation replaces the key pair, uploads the new chain to the load balancer and reloads the proxies without dropping connections.",
            "An expired certificate shows up as handshake failures in the edge logs and a red expiry panel on the security dashboard.",
        ],
    },
    Topic {
        slug: "database-backups",
        title: "database backups",
        category: "operations",
        facts: [
            "Full snapshots of the primary database run nightly and the write-ahead log is archived continuously to object storage.",
            "A restore drill every month rebuilds a replica from the latest snapshot and replays the archived log to a point in time.",
            "Backups are encrypted, kept for thirty five days, and a checksum report proves each snapshot can be read back.",
        ],
    },
    Topic {
        slug: "oncall-rotation",
        title: "on-call rotation",
        category: "people",
        facts: [
            "Each team keeps a weekly on-call rotation with a primary and a secondary engineer and a handover every Monday morning.",
            "Pages go to the primary first, escalate to the secondary after ten minutes and to the engineering manager after thirty.",
            "The on-call engineer owns incident command until the incident is handed to someone else in the incident channel.",
        ],
    },
    Topic {
        slug: "kubernetes-networking",
        title: "Kubernetes networking",
        category: "platform",
        facts: [
            "Pods talk to each other over the cluster network, services get stable virtual addresses and DNS names inside the cluster.",
            "Ingress controllers terminate external traffic and network policies restrict which namespaces may reach which pods.",
            "Most connectivity problems come from a missing network policy, a wrong service selector or exhausted node IP addresses.",
        ],
    },
    Topic {
        slug: "vector-search",
        title: "vector search",
        category: "search",
        facts: [
            "Documents are split into passages, each passage is embedded into a vector and stored next to its row for similarity search.",
            "Approximate nearest neighbour indexes such as HNSW trade a little recall for much lower query latency on large collections.",
            "Cosine distance compares direction only, inner product also rewards length, and the metric must match the index.",
        ],
    },
    Topic {
        slug: "cost-reporting",
        title: "cloud cost reporting",
        category: "finance",
        facts: [
            "Cloud spend is tagged by team and service, and a monthly cost report compares every budget with the actual invoice.",
            "Idle compute, unattached volumes and oversized instances are the usual savings found in the weekly cost review.",
            "Reserved capacity and committed use discounts are bought once a quarter after the finance team signs off the forecast.",
        ],
    },
    Topic {
        slug: "customer-onboarding",
        title: "customer onboarding",
        category: "customers",
        facts: [
            "New customers get a welcome call, a sandbox tenant and a checklist that ends with their first production integration.",
            "The onboarding team tracks time to first value and follows up when a customer has not sent traffic after two weeks.",
            "Single sign-on, user provisioning and data import are configured together with the customer's administrator.",
        ],
    },
    Topic {
        slug: "incident-postmortems",
        title: "incident postmortems",
        category: "operations",
        facts: [
            "Every severe incident gets a blameless postmortem with a timeline, the contributing factors and follow-up actions.",
            "Postmortems are reviewed in the weekly reliability meeting and action items carry an owner and a due date.",
            "Customer impact is measured in minutes of downtime and failed requests, taken from the service level dashboards.",
        ],
    },
    Topic {
        slug: "api-rate-limits",
        title: "API rate limits",
        category: "platform",
        facts: [
            "Each API key has a token bucket that refills every second, and bursts above the bucket get HTTP status 429 with a retry hint.",
            "Limits are set per plan, and large customers can ask for a temporary increase during migrations.",
            "Clients should back off exponentially with jitter instead of retrying in a tight loop when throttled.",
        ],
    },
    Topic {
        slug: "password-policy",
        title: "password and login policy",
        category: "security",
        facts: [
            "Passwords need twelve characters, are checked against known breached lists and are stored with a slow salted hash.",
            "Multi-factor authentication is mandatory for staff accounts and recommended for customer administrators.",
            "Ten failed logins lock an account for fifteen minutes and notify its owner by email.",
        ],
    },
    Topic {
        slug: "release-process",
        title: "release process",
        category: "engineering",
        facts: [
            "Releases are cut from the main branch every Tuesday after the test suite and the canary deployment pass.",
            "A canary takes five percent of traffic for an hour and rolls back automatically when error rates rise.",
            "Release notes list user-visible changes, migrations and anything operators must do before upgrading.",
        ],
    },
    Topic {
        slug: "data-retention",
        title: "data retention",
        category: "compliance",
        facts: [
            "Customer content is kept while the account is active and deleted within thirty days after the contract ends.",
            "Logs containing personal data are kept for ninety days, aggregated metrics for two years.",
            "Deletion requests are tracked in the privacy queue and confirmed to the customer when every copy is gone.",
        ],
    },
    Topic {
        slug: "search-relevance",
        title: "search relevance tuning",
        category: "search",
        facts: [
            "Relevance is measured with a labelled query set, reporting precision at ten and normalised discounted cumulative gain.",
            "Keyword matching and semantic similarity are blended, and recent documents get a small freshness boost.",
            "Query logs show which searches return nothing useful, and those queries become new labelled examples.",
        ],
    },
    Topic {
        slug: "laptop-setup",
        title: "laptop setup for new engineers",
        category: "people",
        facts: [
            "New engineers receive a laptop with disk encryption enabled, the device management profile and the VPN client.",
            "The setup script installs the compiler toolchain, the container runtime and access to the source repositories.",
            "Security keys for single sign-on are handed out on the first day together with the badge.",
        ],
    },
    Topic {
        slug: "message-queues",
        title: "message queues",
        category: "platform",
        facts: [
            "Services publish events to durable queues, consumers acknowledge each message after processing it.",
            "Messages that fail five times move to a dead letter queue that the owning team inspects every day.",
            "Consumer lag is the main alert: a growing backlog means consumers are too slow or stuck.",
        ],
    },
    Topic {
        slug: "gdpr-requests",
        title: "GDPR data subject requests",
        category: "compliance",
        facts: [
            "Data subject access requests must be answered within one month and include every system that stores the person's data.",
            "Erasure requests remove personal data from production databases, search indexes and analytics exports.",
            "The privacy team verifies the identity of the requester before any data is released.",
        ],
    },
    Topic {
        slug: "mobile-app-crashes",
        title: "mobile app crashes",
        category: "product",
        facts: [
            "Crash reports from the mobile app are grouped by stack trace and ranked by the number of affected users.",
            "Most crashes after a release come from an unhandled null response or a view used after it was destroyed.",
            "A crash free session rate below ninety nine percent blocks the staged rollout in the app stores.",
        ],
    },
    Topic {
        slug: "pricing-plans",
        title: "pricing plans",
        category: "customers",
        facts: [
            "There are three plans, starter, team and enterprise, priced per seat with volume discounts above fifty seats.",
            "Enterprise adds single sign-on, audit logs, a dedicated support contact and a negotiated service level agreement.",
            "Upgrades take effect immediately and are prorated on the next invoice.",
        ],
    },
    Topic {
        slug: "observability",
        title: "observability: metrics, logs and traces",
        category: "operations",
        facts: [
            "Every service exports request rate, error rate and latency histograms, and structured logs with a request id.",
            "Distributed traces follow a request across services so a slow dependency is visible in one view.",
            "Dashboards are generated from the service catalogue, and alerts fire on symptoms users feel, not on causes.",
        ],
    },
    Topic {
        slug: "code-review",
        title: "code review guidelines",
        category: "engineering",
        facts: [
            "Every change needs one approving review from someone who did not write it, and two for security sensitive code.",
            "Reviewers check correctness, tests and readability first, and leave style questions to the formatter and linter.",
            "Small changes get reviewed within a working day; large ones should be split before review.",
        ],
    },
    Topic {
        slug: "disaster-recovery",
        title: "disaster recovery",
        category: "operations",
        facts: [
            "The recovery point objective is five minutes and the recovery time objective is one hour for the core services.",
            "A second region holds warm standby replicas, and failover is rehearsed twice a year with a game day.",
            "DNS records have short time to live values so traffic can move to the standby region quickly.",
        ],
    },
    Topic {
        slug: "feature-flags",
        title: "feature flags",
        category: "engineering",
        facts: [
            "New features ship behind flags that can be enabled per tenant, per percentage of users or for internal staff only.",
            "Flags that have been fully rolled out for a month are removed from the code to keep it simple.",
            "Turning a flag off is the fastest rollback and does not need a deployment.",
        ],
    },
    Topic {
        slug: "support-tickets",
        title: "support ticket triage",
        category: "customers",
        facts: [
            "Support tickets are triaged by severity, urgent tickets get a first response within one hour around the clock.",
            "Tickets that describe a product defect are linked to a bug report and the customer is told when it is fixed.",
            "Satisfaction surveys after each closed ticket feed the monthly support quality review.",
        ],
    },
    Topic {
        slug: "gpu-training-jobs",
        title: "GPU training jobs",
        category: "machine learning",
        facts: [
            "Model training jobs are queued on the GPU cluster and scheduled by priority and requested accelerator memory.",
            "Checkpoints are written every hour so a preempted job resumes where it stopped.",
            "Experiment tracking records hyperparameters, dataset versions and evaluation metrics for every run.",
        ],
    },
    Topic {
        slug: "embedding-models",
        title: "embedding models",
        category: "machine learning",
        facts: [
            "Text embedding models turn sentences into dense vectors so that similar meanings end up close together.",
            "Changing the embedding model means re-embedding every stored passage, because vectors of two models are not comparable.",
            "Smaller models with 384 dimensions are cheaper to store and search; larger ones capture finer distinctions.",
        ],
    },
    Topic {
        slug: "office-travel",
        title: "office travel and expenses",
        category: "people",
        facts: [
            "Business travel is booked through the travel portal, and hotel and flight costs follow the per city limits.",
            "Expenses are submitted with receipts within thirty days and approved by the line manager.",
            "Team offsites are planned a quarter ahead with the budget agreed by the department head.",
        ],
    },
    Topic {
        slug: "schema-migrations",
        title: "database schema migrations",
        category: "engineering",
        facts: [
            "Schema migrations are versioned, applied by the deploy pipeline, and must work while the old code still runs.",
            "Adding a column is safe; renaming or dropping one takes two releases: stop using it, then remove it.",
            "Large tables get new indexes built online so writes are not blocked during the migration.",
        ],
    },
    Topic {
        slug: "caching",
        title: "caching strategy",
        category: "platform",
        facts: [
            "Read heavy endpoints use a shared cache with a short expiry, and writes invalidate the affected keys.",
            "A cache stampede is avoided with request coalescing, so one miss loads the value while others wait.",
            "The hit ratio and eviction rate are watched; a falling hit ratio usually means the working set outgrew memory.",
        ],
    },
    Topic {
        slug: "accessibility",
        title: "accessibility",
        category: "product",
        facts: [
            "The web app follows WCAG guidelines: keyboard navigation, visible focus, sufficient colour contrast and alt text.",
            "Screen reader testing is part of the release checklist for every new page or dialog.",
            "Accessibility bugs are triaged with the same severity scale as functional defects.",
        ],
    },
    Topic {
        slug: "vendor-security-reviews",
        title: "vendor security reviews",
        category: "security",
        facts: [
            "Every new vendor that handles customer data completes a security questionnaire and provides an audit report.",
            "High risk vendors are reviewed yearly, and contracts include breach notification within seventy two hours.",
            "Access granted to a vendor is scoped to what the integration needs and revoked when the contract ends.",
        ],
    },
];

/// The ten kinds of document each topic is written up as.
const KINDS: [(&str, &str); 10] = [
    ("overview", "An overview of {title} for people new to the subject."),
    ("howto", "How to work with {title}, step by step."),
    ("troubleshooting", "Troubleshooting {title}: symptoms, causes and fixes."),
    ("faq", "Frequently asked questions about {title}."),
    ("runbook", "Runbook for {title}, for the engineer on call."),
    ("checklist", "A checklist for {title} before anything goes to production."),
    ("design-notes", "Design notes: why {title} works the way it does."),
    ("meeting-notes", "Notes from the quarterly review of {title}."),
    ("glossary", "Glossary of the terms used when talking about {title}."),
    ("onboarding", "What a new team member should read first about {title}."),
];

/// One document of the corpus.
pub(crate) struct Doc {
    pub(crate) name: String,
    pub(crate) category: &'static str,
    pub(crate) content: String,
    pub(crate) summary: String,
    pub(crate) ordinal: i64,
}

/// The whole corpus, in a fixed order (names like `tls-certificates-runbook`).
pub(crate) fn documents() -> Vec<Doc> {
    let mut out = Vec::with_capacity(TOPICS.len() * KINDS.len());
    for t in &TOPICS {
        for (k, (kind, intro)) in KINDS.iter().enumerate() {
            // Each kind leads with a different fact, so documents of one topic differ.
            let facts: Vec<&str> = (0..3).map(|i| t.facts[(i + k) % 3]).collect();
            let intro = intro.replace("{title}", t.title);
            out.push(Doc {
                name: format!("{}-{kind}", t.slug),
                category: t.category,
                content: format!("{intro} {}", facts.join(" ")),
                summary: intro,
                ordinal: i64::try_from(out.len()).unwrap_or(i64::MAX),
            });
        }
    }
    out
}

/// Queries the demo runs, with the topic each should find first.
pub(crate) const QUERIES: [(&str, &str); 4] = [
    ("an expired certificate causes handshake failures", "tls-certificates"),
    ("restore the database from last night's snapshot", "database-backups"),
    ("consumers are slow and the dead letter queue is growing", "message-queues"),
    ("re-embedding passages after switching the embedding model", "embedding-models"),
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn three_hundred_documents_with_unique_names() {
        let docs = super::documents();
        assert_eq!(docs.len(), 300);
        let names: HashSet<&str> = docs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names.len(), 300);
        assert!(docs.iter().all(|d| d.content.len() > 200));
    }
}
