//! Prompts to the incident roles: planned like an audience of one, on the
//! route of the person in the role.

use super::dispatcher::{Dispatcher, PolicyPlan};
use crate::audience::{AudiencePolicy, Detail};
use crate::incident::{Incident, Role};

impl Dispatcher {
    /// The lane of the (non-primary) channel registered as `name`.
    pub(crate) fn lane_index(&self, name: &str) -> Option<usize> {
        self.inner.lanes.iter().position(|l| &*l.name == name)
    }

    /// The plan of a prompt to `role` on `incident`: the route of the person
    /// in the role, at internal detail. `None` if nobody holds the role or
    /// the route's channel is not registered (the prompt then reaches
    /// nobody; [`send_role_prompts`](Dispatcher::send_role_prompts) checks
    /// the channel before posting one).
    pub(crate) fn role_plan(&self, incident: &Incident, role: Role) -> Option<PolicyPlan> {
        let person = incident.roles().get(role)?;
        let route = person.route().clone();
        let Some(lane) = self.lane_index(route.channel()) else {
            tracing::warn!(
                incident = %incident.id(),
                role = role.as_str(),
                channel = route.channel(),
                "the route of the person in this role names no registered channel; the prompt is not sent"
            );
            return None;
        };
        Some(PolicyPlan {
            policy: AudiencePolicy::new(role.audience())
                .detail(Detail::Internal)
                .route(route.clone()),
            routes: vec![(lane, route)],
        })
    }
}
