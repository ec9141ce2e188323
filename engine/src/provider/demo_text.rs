//! The demo model's writing: plausible, deterministic text built from a step's instructions and
//! input. It picks a shape from the instructions (a list of facts, action items, a summary, an
//! email, a story, an article) and fills it with the topic, seeded by a hash of the request.

use super::ModelRequest;
use crate::prompt::ROUTES_HEAD;
use crate::prompt::{review_note, sections};

/// What the demo reviser writes at the top of a revision, and what its reviewer looks for: a
/// draft is approved once it has been revised (so "Draft and review" approves in round 2).
const REVISION_MARK: &str = "*Revised to address the review.*";

/// The whole answer for a request. `words` forces an exact length (benchmarks).
pub(super) fn compose(req: &ModelRequest, words: Option<usize>) -> String {
    if words.is_none()
        && let Some(answer) = route_answer(req)
    {
        return answer;
    }
    let mut w = Writer::new(req);
    let shape = Shape::from_instructions(&req.system);
    let mut text = match shape {
        Shape::Review => w.review(),
        Shape::Revision => w.revision(),
        Shape::Facts => w.facts(),
        Shape::ActionItems => w.action_items(),
        Shape::Summary => w.summary(),
        Shape::Email => w.email(),
        Shape::Story { long } => w.story(if long { 10 } else { 3 }),
        Shape::Article => w.article(),
    };
    // A step sent back by its reviewer says what it changed, so the demo's second answer is
    // plainly not its first.
    if let (None, (_, Some(note))) = (words, review_note(&req.user)) {
        text = format!("Revised as you asked (“{}”).\n\n{text}", note.trim());
    }
    if let Some(n) = words {
        let mut count = text.split_whitespace().count();
        while count < n {
            let more = w.filler_paragraph(shape);
            count += more.split_whitespace().count();
            text.push_str("\n\n");
            text.push_str(&more);
        }
        text = into_pieces(&text)
            .into_iter()
            .take(n)
            .collect::<String>()
            .trim_end()
            .to_string();
    }
    text
}

/// Splits text into streamable pieces: each word with the whitespace that follows it, so that
/// concatenating the pieces gives the text back exactly.
pub(super) fn into_pieces(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut in_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            in_space = true;
        } else if in_space {
            pieces.push(std::mem::take(&mut current));
            in_space = false;
        }
        current.push(c);
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    Review,
    Revision,
    Facts,
    ActionItems,
    Summary,
    Email,
    Story { long: bool },
    Article,
}

impl Shape {
    fn from_instructions(instructions: &str) -> Shape {
        let i = instructions.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| i.contains(w));
        if has(&["review", "critique"]) && i.contains("approved") {
            Shape::Review
        } else if has(&["revise", "rewrite", "improve the draft"]) {
            Shape::Revision
        } else if has(&["story", "tale", "fable"]) {
            Shape::Story {
                long: has(&["long", "chapters", "novel"]),
            }
        } else if has(&["email", "e-mail", "reply", "letter"]) {
            Shape::Email
        } else if has(&["action item", "to-do", "todo", "tasks"]) {
            Shape::ActionItems
        } else if has(&["article", "essay", "blog", "post"]) {
            Shape::Article
        } else if has(&["list", "facts", "bullet", "research", "ideas"]) {
            Shape::Facts
        } else if has(&["summar", "recap", "tl;dr"]) {
            Shape::Summary
        } else {
            Shape::Article
        }
    }
}

/// A tiny deterministic generator (xorshift64*), seeded from the request.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h | 1
}

struct Writer {
    rng: Rng,
    topic: String,
    previous_points: Vec<String>,
    /// What came before: the previous step's output, or the cited outputs.
    previous: String,
    hero: String,
    name: &'static str,
    place: &'static str,
}

impl Writer {
    fn new(req: &ModelRequest) -> Self {
        let (user, _) = review_note(&req.user);
        let (input, prev) = sections(user);
        // A step that cites other steps has their outputs in its instructions instead.
        let prev = prev.unwrap_or(&req.system);
        let mut rng = Rng(fnv1a(&[&req.system, &req.user]));
        let topic = topic_of(input);
        let lower = topic.to_lowercase();
        let hero = if ["a ", "an ", "the "].iter().any(|a| lower.starts_with(a)) {
            topic.clone()
        } else {
            format!("a young dreamer who cared about {topic}")
        };
        let name = NAMES[rng.below(NAMES.len())];
        let place = PLACES[rng.below(PLACES.len())];
        Writer {
            rng,
            topic,
            previous_points: points_of(prev),
            previous: prev.to_string(),
            hero,
            name,
            place,
        }
    }

    fn fill(&self, template: &str) -> String {
        template
            .replace("{topic}", &self.topic)
            .replace("{Topic}", &capitalize(&self.topic))
            .replace("{hero}", &self.hero)
            .replace("{name}", self.name)
            .replace("{place}", self.place)
    }

    fn pick(&mut self, pool: &[&str]) -> String {
        let t = pool[self.rng.below(pool.len())];
        self.fill(t)
    }

    /// `n` distinct entries of `pool`, in a seeded order.
    fn pick_n(&mut self, pool: &[&str], n: usize) -> Vec<String> {
        let mut idx: Vec<usize> = (0..pool.len()).collect();
        for i in (1..idx.len()).rev() {
            idx.swap(i, self.rng.below(i + 1));
        }
        idx.into_iter()
            .take(n)
            .map(|i| self.fill(pool[i]))
            .collect()
    }

    fn facts(&mut self) -> String {
        let n = 6 + self.rng.below(3);
        let mut out = self.pick(FACT_HEADERS);
        out.push_str("\n\n");
        for f in self.pick_n(FACTS, n) {
            out.push_str(&format!("- {f}\n"));
        }
        out.push('\n');
        out.push_str(&self.pick(FACT_FOOTERS));
        out
    }

    fn action_items(&mut self) -> String {
        let n = 4 + self.rng.below(2);
        let mut out = format!("Action items for {}:\n\n", self.topic);
        let owners = self.pick_n(OWNERS, n);
        for (owner, task) in owners.iter().zip(self.pick_n(TASKS, n)) {
            out.push_str(&format!("- [ ] **{owner}**: {task}\n"));
        }
        out.push_str(
            "\nEach owner confirms by the end of the week or flags what is blocking them.",
        );
        out
    }

    fn summary(&mut self) -> String {
        let mut out = self.pick(SUMMARY_OPENERS);
        for s in self.pick_n(SUMMARY_SENTENCES, 4) {
            out.push(' ');
            out.push_str(&s);
        }
        out
    }

    fn email(&mut self) -> String {
        let mut out = format!(
            "Subject: Follow-up: {}\n\nHi everyone,\n\nThank you for your time today. Here is a \
             short recap of where we landed on {}.\n\n",
            capitalize(&self.topic),
            self.topic
        );
        if self.previous_points.is_empty() {
            out.push_str(&self.summary());
            out.push_str("\n\n");
        } else {
            for p in self.previous_points.iter().take(6) {
                out.push_str(&format!("- {p}\n"));
            }
            out.push('\n');
        }
        out.push_str(&self.pick(EMAIL_CLOSERS));
        out.push_str("\n\nBest regards,\n[Your name]");
        out
    }

    fn story(&mut self, chapters: usize) -> String {
        // Each stage's paragraphs are shuffled once and handed out in turn, so a long story
        // repeats none until its stage's pool runs out.
        let mut stages: Vec<Vec<String>> = STORY_STAGES
            .iter()
            .map(|pool| self.pick_n(pool, pool.len()))
            .collect();
        let mut out = format!("# The Tale of {}\n\n", self.name);
        out.push_str(&self.fill(STORY_OPENING));
        // Chapter titles are listed in story order.
        for (i, title) in CHAPTER_TITLES.iter().cycle().take(chapters).enumerate() {
            if chapters > 3 {
                out.push_str(&format!("\n\n## Chapter {}: {title}", i + 1));
            }
            let stage = &mut stages[i * STORY_STAGES.len() / chapters];
            for _ in 0..2 {
                let p = stage.remove(0);
                out.push_str("\n\n");
                out.push_str(&p);
                stage.push(p);
            }
        }
        out.push_str("\n\n");
        out.push_str(&self.fill(STORY_ENDING));
        out
    }

    /// A reviewer: approves a draft that has been revised, asks for changes otherwise.
    fn review(&mut self) -> String {
        if self.previous.contains(REVISION_MARK) {
            format!(
                "The revision reads well: the opening is clear, the points on {} are in a \
                 sensible order and the ending lands.\n\nAPPROVED",
                self.topic
            )
        } else {
            let mut out = format!("Review of the draft on {}:\n\n", self.topic);
            for s in self.pick_n(REVIEW_NOTES, 3) {
                out.push_str(&format!("- {s}\n"));
            }
            out.push_str("\nNot approved yet: please revise and send it back.");
            out
        }
    }

    /// A reviser: the article again, marked as revised.
    fn revision(&mut self) -> String {
        format!("{REVISION_MARK}\n\n{}", self.article())
    }

    fn article(&mut self) -> String {
        let mut out = format!("# {}\n\n", self.pick(ARTICLE_TITLES));
        out.push_str(&self.pick(ARTICLE_INTROS));
        out.push_str("\n\n## What we know\n\n");
        if self.previous_points.is_empty() {
            let body = self.pick_n(FACTS, 4).join(" ");
            out.push_str(&body);
        } else {
            let connectors = [
                "To begin with,",
                "Beyond that,",
                "It is also worth knowing that",
                "Finally,",
            ];
            // Points spread over everything before (several cited steps' lists, not only the
            // first one's), in order, the first point always among them.
            let n = self.previous_points.len();
            let k = connectors.len().min(n);
            let sentences: Vec<String> = (0..k)
                .map(|i| &self.previous_points[i * n / k])
                .zip(connectors)
                .map(|(p, c)| format!("{c} {}", lower_first(p)))
                .collect();
            out.push_str(&sentences.join(" "));
        }
        out.push_str("\n\n## Why it matters\n\n");
        out.push_str(&self.pick_n(ARTICLE_BODY, 3).join(" "));
        out.push_str("\n\n## In short\n\n");
        out.push_str(&self.pick(ARTICLE_CONCLUSIONS));
        out
    }

    fn filler_paragraph(&mut self, shape: Shape) -> String {
        match shape {
            Shape::Story { .. } => self.pick_n(STORY_STAGES[2], 2).join("\n\n"),
            Shape::Facts | Shape::ActionItems => self
                .pick_n(FACTS, 3)
                .into_iter()
                .map(|f| format!("- {f}"))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => self.pick_n(ARTICLE_BODY, 3).join(" "),
        }
    }
}

/// A router's request (its prompt lists the routes): the route whose name and description share
/// the most words with the input, and why. `None` for any other request.
fn route_answer(req: &ModelRequest) -> Option<String> {
    let list = req.system.split_once(ROUTES_HEAD)?.1;
    let routes: Vec<(&str, &str)> = list
        .lines()
        .map_while(|l| l.strip_prefix("- "))
        .filter_map(|l| l.split_once(": "))
        .collect();
    let (input, _) = sections(&req.user);
    let words: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 3)
        .map(str::to_lowercase)
        .collect();
    let score = |(name, description): &(&str, &str)| {
        let about = format!("{name} {description}").to_lowercase();
        words.iter().filter(|w| about.contains(w.as_str())).count()
    };
    // The first of the best (`max_by_key` would give the last).
    let best = routes
        .iter()
        .enumerate()
        .fold(None::<(usize, usize)>, |acc, (i, r)| match acc {
            Some((_, s)) if s >= score(r) => acc,
            _ => Some((i, score(r))),
        })?
        .0;
    let (name, description) = routes[best];
    Some(format!(
        "{name}\nThe request is about {}, which fits “{name}”: {}.",
        topic_of(input),
        lower_first(description.trim_end_matches('.'))
    ))
}

/// The topic of a request: its first non-empty line, without trailing punctuation, kept short.
pub(super) fn topic_of(input: &str) -> String {
    let line = input
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("this topic");
    let line = line.trim_end_matches(['.', '!', '?', ':', ';', ',']);
    let mut topic = String::new();
    for word in line.split_whitespace() {
        if topic.chars().count() + word.chars().count() > 60 {
            break;
        }
        if !topic.is_empty() {
            topic.push(' ');
        }
        topic.push_str(word);
    }
    if topic.is_empty() {
        "this topic".to_string()
    } else {
        topic
    }
}

/// Bullet or numbered lines of an earlier step's output, cleaned, so a later step can use them.
fn points_of(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter_map(|l| {
            let l = l
                .strip_prefix("- [ ] ")
                .or_else(|| l.strip_prefix("- "))
                .or_else(|| l.strip_prefix("* "))?;
            let l = l.replace("**", "");
            Some(l.trim().to_string()).filter(|s| !s.is_empty())
        })
        .collect()
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        // Keep acronyms and names ("AI", "Priya") as they are.
        Some(f) if c.clone().next().is_some_and(char::is_lowercase) => {
            f.to_lowercase().chain(c).collect()
        }
        Some(f) => std::iter::once(f).chain(c).collect(),
        None => String::new(),
    }
}

const REVIEW_NOTES: &[&str] = &[
    "The opening takes too long to reach {topic}; lead with the most surprising fact.",
    "Two paragraphs make the same point; merge them.",
    "The conclusion needs one concrete next step for the reader.",
    "Some sentences are long; split the longest ones.",
    "Say where the numbers come from.",
];
const NAMES: &[&str] = &["Ember", "Pip", "Marlowe", "Juniper", "Quill", "Saffron"];
const PLACES: &[&str] = &["Halden", "Orrin", "Copperfield", "Ninefold Bridges"];

const FACT_HEADERS: &[&str] = &[
    "Here are the key facts about {topic}:",
    "Key points on {topic}:",
    "What matters most about {topic}:",
];
const FACT_FOOTERS: &[&str] = &[
    "Worth checking next: recent survey articles, official statistics and one or two independent case studies.",
    "These points are a starting map, not the last word: each deserves a source before it is quoted.",
];
const FACTS: &[&str] = &[
    "{Topic} draws on ideas that have been developing for decades, and the fundamentals are well understood.",
    "Cost is the biggest practical question: early efforts around {topic} were expensive, and prices have fallen as experience grew.",
    "Most experts agree that {topic} works best when it is planned for the long term rather than as a quick fix.",
    "There are trade-offs: {topic} brings clear benefits, but it asks for upfront investment and patience.",
    "Public interest in {topic} has grown quickly over the last few years.",
    "Reliable data on {topic} is still patchy, so careful sources say where their numbers come from.",
    "Local conditions matter: what works for {topic} in one place may not carry over to another.",
    "Rules and regulation around {topic} are still catching up with practice.",
    "The people who benefit most from {topic} are often not the ones who pay for it first.",
    "Small pilots have shown that {topic} succeeds when the goals are concrete and measured.",
    "Critics of {topic} point to open questions about long-term effects.",
    "New tools are making {topic} easier to study and to explain.",
    "{Topic} connects to wider questions about money, energy and everyday habits.",
    "Case studies show that clear communication often decides whether {topic} is accepted.",
    "Most open problems in {topic} are about scale rather than basic feasibility.",
    "The next five years will likely decide how widely {topic} is adopted.",
];
const OWNERS: &[&str] = &["Alex", "Sam", "Priya", "Jordan", "Maria", "Chen"];
const TASKS: &[&str] = &[
    "share the updated plan for {topic} by Friday",
    "collect the open questions about {topic} and send them round",
    "book a follow-up meeting in two weeks",
    "check the budget figures before the next review",
    "draft a short update on {topic} for the wider team",
    "confirm who signs off on the final decision",
];
const SUMMARY_OPENERS: &[&str] = &[
    "The meeting covered {topic}.",
    "In short: the discussion was about {topic}.",
];
const SUMMARY_SENTENCES: &[&str] = &[
    "The group agreed on the main goal and on what a good result looks like.",
    "Several questions are still open, mostly about timing and budget.",
    "There was broad support for starting small and reviewing progress regularly.",
    "Two risks came up: the schedule is tight, and some decisions depend on people who were not in the room.",
    "Everyone left with a clear next step.",
    "The remaining disagreements are about details rather than direction.",
];
const EMAIL_CLOSERS: &[&str] = &[
    "Please reply if I missed anything, or if a date does not work for you.",
    "If anything here looks wrong, just reply and I will update the plan.",
];
const ARTICLE_TITLES: &[&str] = &[
    "{Topic}: what you need to know",
    "Understanding {topic}",
    "A clear look at {topic}",
];
const ARTICLE_INTROS: &[&str] = &[
    "{Topic} comes up in more conversations every year, yet it is still easy to get lost in the details. This article sets out what is known, what is still debated, and why it matters to ordinary people.",
    "Few subjects mix promise and confusion quite like {topic}. Here is a plain-language guide to the essentials.",
];
const ARTICLE_BODY: &[&str] = &[
    "The practical upside is real: done well, {topic} saves money and effort over time.",
    "The harder part is patience, because the benefits tend to arrive later than the costs.",
    "Good decisions about {topic} start with good questions: who pays, who benefits, and how we will know it worked.",
    "Communities that have tried it report that honest expectations matter as much as the technology.",
    "None of this is settled, and that is fine: the field is moving, and new evidence keeps arriving.",
    "For most readers the useful stance is curious and careful rather than excited or dismissive.",
];
const ARTICLE_CONCLUSIONS: &[&str] = &[
    "{Topic} is neither a miracle nor a fad. It is a promising idea with real trade-offs, and it rewards people who take the time to understand it.",
    "The short version: {topic} is worth watching, worth questioning, and, in the right place, worth doing.",
];
const STORY_OPENING: &str = "Once upon a time, in the little harbour town of {place}, there lived {hero}. The neighbours called it {name}, and {name} had a secret wish that nobody had guessed yet.";
const STORY_ENDING: &str = "And so {name} found that the hardest things are learned one small step at a time. In {place}, they still tell the story on long evenings, and every child who hears it asks the same question: what would I learn, if I were brave enough to start?";
const CHAPTER_TITLES: &[&str] = &[
    "A Strange Idea",
    "The First Attempt",
    "Everything Goes Wrong",
    "An Unexpected Teacher",
    "Late Nights",
    "A Small Success",
    "The Big Test",
    "Friends Old and New",
    "What Changed",
    "Home Again",
];
const STORY_STAGES: [&[&str]; 4] = [
    &[
        "It began on an ordinary morning. {name} was watching the clouds drift over {place} when an idea arrived, bright and impossible, and refused to leave.",
        "At first {name} told no one. Ideas like this one were easy to laugh at, and {name} had been laughed at before.",
        "The old books said nothing useful, so {name} started with what was at hand: curiosity, a notebook, and far too much stubbornness.",
        "Everyone in {place} had an opinion. The baker thought it was a waste of time, the teacher thought it was wonderful, and the cat thought nothing at all, which {name} found oddly comforting.",
        "That night {name} could not sleep. Plans kept unfolding like maps, each one bigger than the last, until the window turned grey with dawn.",
        "{name} wrote the wish down in plain words, so it could not hide behind vague hopes: learn it properly, one piece at a time, and do not stop when it gets hard.",
    ],
    &[
        "The first attempt was a disaster. Things broke in ways {name} had not known they could break, and the notebook filled with crossed-out lines.",
        "{name} tried again the next day, and the day after that. Each failure was a little less complete than the one before, which is its own kind of progress.",
        "A wise old tortoise who lived by the river watched all of this with interest. \"You are trying to do everything at once,\" it said at last. \"Try one small thing, and finish it.\"",
        "The tortoise gave lessons in the early mornings, when the river was quiet. They were short, and strict, and full of questions that had no quick answers.",
        "{name} learned that every big skill is a pile of small ones. The trick was to notice which small one was missing today.",
        "Some days the lessons went well. Other days {name} stared at the same puzzle until the sun went down and still could not see the answer, and went to bed grumpy.",
    ],
    &[
        "So {name} made the problem smaller. One piece at a time, one evening at a time, the pieces began to fit together.",
        "There were nights when nothing worked and {name} wanted to give up. On those nights {name} reread the first page of the notebook, where the idea was still written in big hopeful letters.",
        "Friends began to drop by. Some came to help, some came to watch, and a few came to tease, but even they stayed longer than they meant to.",
        "Slowly {name} learned to read the mistakes instead of fearing them. Every error said something, if one listened patiently enough.",
        "One rainy afternoon something clicked. A piece that had never worked suddenly did, and {name} laughed so loudly that the windows of {place} rattled.",
        "Success brought new problems. Now that things worked, {name} wanted them to work well, and that turned out to be a whole new kind of hard.",
        "A stranger passing through {place} stopped to look at the notebook. \"I tried this once,\" the stranger said, \"and gave up too early. Do not do what I did.\"",
    ],
    &[
        "Then came the day of the big test. All of {place} gathered to see whether {name} could really do it.",
        "It was not perfect. But it worked, and the crowd went quiet, and then it cheered louder than anyone could remember.",
        "Afterwards, {name} sat by the river with the tortoise. \"You finished it,\" the tortoise said. \"Now you know you can finish the next thing too.\"",
        "In the weeks that followed, others came to {name} with wishes of their own, and {name} told each of them the same thing: start small, and keep going.",
        "{name} kept the old notebook on a shelf, its pages soft from use. Sometimes, on quiet evenings, {name} opened it just to remember how far the journey had come.",
    ],
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_ref::ModelRef;
    use crate::prompt::{PreviousStep, chained};

    fn req(instructions: &str, input: &str, previous: Option<&str>) -> ModelRequest {
        let previous = previous.map(|o| PreviousStep {
            name: "Research".into(),
            output: o.into(),
        });
        ModelRequest::new(
            ModelRef::demo(),
            instructions.into(),
            chained(input, previous.as_ref()),
        )
    }

    #[test]
    fn pieces_rebuild_the_text_exactly() {
        let t = "Hello  world,\n\n- one\n- two ";
        let p = into_pieces(t);
        assert_eq!(p.concat(), t);
        assert_eq!(p, ["Hello  ", "world,\n\n", "- ", "one\n", "- ", "two "]);
    }

    #[test]
    fn shapes_follow_the_instructions() {
        let facts = compose(
            &req(
                "Research the topic and list the key facts.",
                "tidal energy",
                None,
            ),
            None,
        );
        assert!(
            facts.lines().filter(|l| l.starts_with("- ")).count() >= 6,
            "{facts}"
        );
        let story = compose(
            &req(
                "Write a long story in chapters.",
                "a dragon who learns to code",
                None,
            ),
            None,
        );
        assert!(story.contains("a dragon who learns to code"));
        assert!(
            story.split_whitespace().count() > 600,
            "{}",
            story.split_whitespace().count()
        );
        let email = compose(
            &req(
                "Draft a follow-up email.",
                "the launch",
                Some("- Alex: ship it"),
            ),
            None,
        );
        assert!(email.starts_with("Subject: Follow-up: The launch"));
        assert!(email.contains("- Alex: ship it"));
    }

    #[test]
    fn a_later_step_builds_on_the_previous_output() {
        let research = compose(&req("List the key facts.", "tidal energy", None), None);
        let article = compose(
            &req(
                "Write an article from the research.",
                "tidal energy",
                Some(&research),
            ),
            None,
        );
        let first_point = points_of(&research).remove(0);
        assert!(article.contains(&lower_first(&first_point)), "{article}");
    }

    #[test]
    fn topic_is_the_first_line_kept_short() {
        assert_eq!(topic_of("\n  Tidal energy?\nmore"), "Tidal energy");
        assert!(topic_of(&"word ".repeat(50)).len() <= 60);
        assert_eq!(topic_of("   "), "this topic");
    }
}
