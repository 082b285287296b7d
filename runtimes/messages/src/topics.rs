//! [`Topic`] and [`Topics`]: the bus's topic names under a deployment prefix.

/// The topics of the live architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Market data from the feed to the nodes (key: symbol).
    MarketData,
    /// Order commands from the nodes to the gateway (key: portfolio).
    OrdersSubmission,
    /// Execution reports from the gateway to the nodes (key: portfolio).
    OrdersFeedback,
    /// Commands from any control entry point.
    ControlCommands,
    /// Scheduler assignment changes.
    ScheduleUpdates,
    /// Lifecycle events and acknowledgements.
    SystemEvents,
    /// Alerts (queue pressure, failures).
    Alerts,
    /// Messages that could not be decoded, with the reason.
    DeadLetters,
}

impl Topic {
    /// Every topic, for provisioning.
    pub const ALL: [Topic; 8] = [
        Topic::MarketData,
        Topic::OrdersSubmission,
        Topic::OrdersFeedback,
        Topic::ControlCommands,
        Topic::ScheduleUpdates,
        Topic::SystemEvents,
        Topic::Alerts,
        Topic::DeadLetters,
    ];

    /// The unprefixed name.
    pub fn base_name(self) -> &'static str {
        match self {
            Topic::MarketData => "market.data",
            Topic::OrdersSubmission => "orders.submission",
            Topic::OrdersFeedback => "orders.feedback",
            Topic::ControlCommands => "control.commands",
            Topic::ScheduleUpdates => "schedule.updates",
            Topic::SystemEvents => "system.events",
            Topic::Alerts => "alerts",
            Topic::DeadLetters => "dead.letters",
        }
    }
}

/// Topic names under a prefix such as `chimera.live.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
    /// Every topic's full name, in [`Topic::ALL`]'s order: written once, as publishing names
    /// its topic at every batch.
    names: Vec<String>,
}

impl Topics {
    /// Names under `prefix` (used verbatim; include the trailing dot).
    pub fn new(prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        let names = Topic::ALL
            .iter()
            .map(|topic| format!("{prefix}{}", topic.base_name()))
            .collect();
        Self { prefix, names }
    }

    /// The full name of `topic`.
    pub fn name(&self, topic: Topic) -> String {
        self.full_name(topic).to_owned()
    }

    /// The full name of `topic`, borrowed.
    pub fn full_name(&self, topic: Topic) -> &str {
        // `Topic::ALL` lists the variants in declaration order (tested).
        &self.names[topic as usize]
    }

    /// A consumer-group name under the same prefix, so deployments (and test runs) sharing a
    /// broker never share groups.
    pub fn group(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The topic a full name refers to, if it is one of ours.
    pub fn parse(&self, name: &str) -> Option<Topic> {
        let base = name.strip_prefix(&self.prefix)?;
        Topic::ALL.into_iter().find(|t| t.base_name() == base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_under_a_prefix() {
        let topics = Topics::new("chimera.live.");
        for topic in Topic::ALL {
            assert_eq!(topics.parse(&topics.name(topic)), Some(topic));
            assert_eq!(
                topics.full_name(topic),
                format!("chimera.live.{}", topic.base_name()),
                "each topic finds its own name"
            );
        }
        assert_eq!(topics.name(Topic::MarketData), "chimera.live.market.data");
        assert_eq!(topics.parse("other.market.data"), None);
    }
}
