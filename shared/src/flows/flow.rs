//! A valid flow, and the checks on the whole step graph that make it one: ids unique, every
//! reference resolves, every button a rule matches exists, every step reachable, no cycle that
//! runs without waiting for the customer, and a default on every branch that can run before
//! the customer replied. The rules are explained in the [module docs](super).

use std::collections::{HashMap, HashSet, VecDeque};

use super::definition::{ButtonDefinition, FlowDefinition, RuleDefinition, StepDefinition};
use super::error::FlowError;
use super::parse;
use super::step::{Action, Condition, MAX_STEPS, Step};

/// A flow's steps, checked as a whole. The first step is the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// Never empty.
    steps: Vec<Step>,
    positions: HashMap<String, usize>,
}

impl FlowDefinition {
    /// Check the whole definition and return the flow it describes, or the first problem
    /// found: in step order, problems of a single step before problems of the graph.
    pub fn parse(&self) -> Result<Flow, FlowError> {
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(FlowError::StepCount { max: MAX_STEPS });
        }
        let mut steps = Vec::with_capacity(self.steps.len());
        let mut positions = HashMap::with_capacity(self.steps.len());
        for (index, definition) in self.steps.iter().enumerate() {
            let step = parse::step(index, definition)?;
            if positions
                .insert(step.id.as_str().to_owned(), index)
                .is_some()
            {
                return Err(FlowError::DuplicateId {
                    index,
                    step: step.id.as_str().to_owned(),
                });
            }
            steps.push(step);
        }
        let flow = Flow { steps, positions };
        let edges = flow.resolve_references()?;
        flow.check_buttons()?;
        flow.check_reachable(&edges)?;
        flow.check_cycles(&edges)?;
        flow.check_defaults(&edges)?;
        Ok(flow)
    }
}

impl Flow {
    /// Where every flow starts.
    pub fn entry(&self) -> &Step {
        // `parse` refuses a flow without steps.
        &self.steps[0]
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.positions.get(id).and_then(|&i| self.steps.get(i))
    }

    /// The steps in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The flow as the API shows it and as it is stored (texts trimmed).
    pub fn definition(&self) -> FlowDefinition {
        FlowDefinition {
            steps: self.steps.iter().map(step_definition).collect(),
        }
    }

    /// Each step's successors by position; a missing target is a [`FlowError::Dangling`].
    fn resolve_references(&self) -> Result<Vec<Vec<usize>>, FlowError> {
        self.steps
            .iter()
            .enumerate()
            .map(|(index, step)| {
                step.action
                    .targets()
                    .into_iter()
                    .map(|(field, target)| {
                        self.positions.get(target.as_str()).copied().ok_or_else(|| {
                            FlowError::Dangling {
                                index,
                                step: step.id.as_str().to_owned(),
                                field,
                                target: target.as_str().to_owned(),
                            }
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// A rule on a button no step offers could never match: almost certainly a typo.
    fn check_buttons(&self) -> Result<(), FlowError> {
        let offered: HashSet<&str> = self
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::Buttons { buttons, .. } => Some(buttons.iter().map(|b| b.id.as_str())),
                _ => None,
            })
            .flatten()
            .collect();
        for (index, step) in self.steps.iter().enumerate() {
            let Action::Branch { rules, .. } = &step.action else {
                continue;
            };
            for (i, rule) in rules.iter().enumerate() {
                if let Condition::Button(button) = &rule.when
                    && !offered.contains(button.as_str())
                {
                    return Err(FlowError::UnknownButton {
                        index,
                        step: step.id.as_str().to_owned(),
                        field: format!("rules[{i}].button"),
                        button: button.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    fn check_reachable(&self, edges: &[Vec<usize>]) -> Result<(), FlowError> {
        let reached = self.reach(edges, |_| true);
        match (0..self.steps.len()).find(|i| !reached.contains(i)) {
            Some(index) => Err(FlowError::Unreachable {
                index,
                step: self.steps[index].id.as_str().to_owned(),
                entry: self.entry().id.as_str().to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// Steps reachable from the entry, following the edges out of the steps `go_on` accepts.
    fn reach(&self, edges: &[Vec<usize>], go_on: impl Fn(&Step) -> bool) -> HashSet<usize> {
        let mut seen = HashSet::from([0]);
        let mut queue = VecDeque::from([0]);
        while let Some(at) = queue.pop_front() {
            let (Some(step), Some(out)) = (self.steps.get(at), edges.get(at)) else {
                continue;
            };
            if !go_on(step) {
                continue;
            }
            for &to in out {
                if seen.insert(to) {
                    queue.push_back(to);
                }
            }
        }
        seen
    }

    /// A cycle made only of steps that do not wait (text, branch) would run forever within one
    /// inbound message; a cycle through a `buttons` or `wait_reply` step is a menu loop.
    fn check_cycles(&self, edges: &[Vec<usize>]) -> Result<(), FlowError> {
        let waits = |i: usize| self.steps.get(i).is_none_or(|s| s.kind().waits());
        // 0 = not visited, 1 = on the current path, 2 = done.
        let mut color = vec![0u8; self.steps.len()];
        for start in 0..self.steps.len() {
            if waits(start) || color[start] != 0 {
                continue;
            }
            // Iterative depth-first search; `path` holds (step, next edge to try).
            let mut path: Vec<(usize, usize)> = vec![(start, 0)];
            color[start] = 1;
            while let Some(&(at, edge)) = path.last() {
                let Some(to) = edges.get(at).and_then(|out| out.get(edge)).copied() else {
                    color[at] = 2;
                    path.pop();
                    continue;
                };
                if let Some(top) = path.last_mut() {
                    top.1 += 1;
                }
                if waits(to) {
                    continue;
                }
                match color[to] {
                    0 => {
                        color[to] = 1;
                        path.push((to, 0));
                    }
                    1 => return Err(self.cycle_error(&path, to)),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The cycle that closes at `to`, told from its earliest step.
    fn cycle_error(&self, path: &[(usize, usize)], to: usize) -> FlowError {
        let from = path.iter().position(|&(s, _)| s == to).unwrap_or(0);
        let mut members: Vec<usize> = path[from..].iter().map(|&(s, _)| s).collect();
        let first = members
            .iter()
            .enumerate()
            .min_by_key(|&(_, &s)| s)
            .map_or(0, |(i, _)| i);
        members.rotate_left(first);
        let index = members.first().copied().unwrap_or(to);
        let name = |i: usize| self.steps[i].id.as_str().to_owned();
        let mut cycle: Vec<String> = members.iter().map(|&i| name(i)).collect();
        cycle.push(name(index));
        FlowError::Cycle { index, cycle }
    }

    /// A branch with no default asks its question again when nothing matches — which needs a
    /// question. Branches reachable from the entry without passing a waiting step run on the
    /// message that started the flow, so they must have a default.
    fn check_defaults(&self, edges: &[Vec<usize>]) -> Result<(), FlowError> {
        let before_any_wait = self.reach(edges, |s| !s.kind().waits());
        for (index, step) in self.steps.iter().enumerate() {
            if let Action::Branch { default: None, .. } = step.action
                && before_any_wait.contains(&index)
            {
                return Err(FlowError::NoDefault {
                    index,
                    step: step.id.as_str().to_owned(),
                });
            }
        }
        Ok(())
    }
}

fn step_definition(step: &Step) -> StepDefinition {
    let mut d = StepDefinition::new(step.id.as_str(), step.kind());
    match &step.action {
        Action::Text { body, next } => {
            d.body = Some(body.clone());
            d.next = Some(next.as_str().to_owned());
        }
        Action::Buttons {
            body,
            buttons,
            next,
        } => {
            d.body = Some(body.clone());
            d.buttons = Some(
                buttons
                    .iter()
                    .map(|b| ButtonDefinition {
                        id: b.id.clone(),
                        title: b.title.clone(),
                    })
                    .collect(),
            );
            d.next = Some(next.as_str().to_owned());
        }
        Action::WaitReply { prompt, next } => {
            d.body = prompt.clone();
            d.next = Some(next.as_str().to_owned());
        }
        Action::Branch { rules, default } => {
            d.rules = Some(
                rules
                    .iter()
                    .map(|rule| {
                        let (button, keywords) = match &rule.when {
                            Condition::Button(id) => (Some(id.clone()), None),
                            Condition::Keywords(k) => (
                                None,
                                Some(k.iter().map(|k| k.as_str().to_owned()).collect()),
                            ),
                        };
                        RuleDefinition {
                            button,
                            keywords,
                            to: rule.to.as_str().to_owned(),
                        }
                    })
                    .collect(),
            );
            d.default = default.as_ref().map(|s| s.as_str().to_owned());
        }
        Action::Handover | Action::End => {}
    }
    d
}
