"""The answers bench's judge (bench/judge.py): replies recorded from the bundled model, judged
against the quiz's choices. A miscounted reply moves ours and stock's figures alike, so the
cases are both ways: what names the gold choice, and what must not."""

from __future__ import annotations

import sys

import pytest

from assistant.settings import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "bench"))
from judge import judge

TEAMS = [
    "the Pittsburgh Steelers",
    "the Baltimore Ravens",
    "the Atlanta Falcons",
    "the New England Patriots",
]
SHOPS = ["Target", "Walmart", "BJ\u2019s Wholesale Club", "Best Buy"]
SCHOOLS = [
    "University of Southern California",
    "University of North Carolina at Chapel Hill",
    "Yale University",
    "University of Michigan",
]
COUNTRIES = ["Brazil", "Zimbabwe", "US", "Canada"]
RATES = [
    "How happy the American people are",
    "The percentage of people who test positive for coronavirus",
    "The percentage of people who are secure in their choice for Presidential candidate",
    "How stock markets forecast future investments",
]
FEATS = [
    "First American to enter Earth\u2019s orbit",
    "First to break the sound barrier",
    "First experimental test pilot",
    "First pilot to circumnavigate the globe",
]
PARKS = [
    "Yellowstone National Park",
    "Yosemite National Park",
    "Zion National Park",
    "Glacier Bay National Park",
]


@pytest.mark.parametrize(
    ("reply", "options", "gold"),
    [
        # a team by its nickname, written as a name
        (
            "The Patriots had to play their Monday night game without quarterback Cam Newton [1].",
            TEAMS,
            TEAMS[3],
        ),
        # the answer's own sentence settles a tie with choices named after it
        (
            "Walmart launched its online “Big Save” sale in direct competition with Amazon\u2019s "
            "Prime Day [2]. Retailers like Target, BJ\u2019s Wholesale Club and Best Buy also have "
            "gotten in the game.",
            SHOPS,
            "Walmart",
        ),
        (
            "USC announced that families with an annual income of $80,000 or less can attend [1]",
            SCHOOLS,
            SCHOOLS[0],
        ),
        (
            "Former Brazilian President Lula has called for the impeachment of Jair Bolsonaro [1].",
            COUNTRIES,
            "Brazil",
        ),
        # "how" and "are" no longer name "How happy the American people are"
        (
            'The term "positivity rate" is being used to describe how many people are testing '
            "positive for coronavirus, out of the total number of people tested [1].",
            RATES,
            RATES[1],
        ),
        ("Dr. Oz won the primary [1].", ["Mehmet Oz", "David McCormick"], "Mehmet Oz"),
        ("Edy's Pie [1].", ["Edy\u2019s Pie", "Polar Pie"], "Edy\u2019s Pie"),
        # "breaking" says "break": without the stem, "test pilot" tied it
        (
            "Chuck Yeager died this week at the age of 97, making history by breaking the sound "
            "barrier as a test pilot of the X-1. [1]",
            FEATS,
            FEATS[1],
        ),
    ],
)
def test_a_reply_that_names_the_gold_choice_is_right(reply, options, gold):
    assert judge(reply, False, options, gold) == "right"


@pytest.mark.parametrize(
    ("reply", "options", "gold"),
    [
        # two choices in the answer's own sentence: no single answer
        ("It was either Walmart or Target [1].", SHOPS, "Walmart"),
        # "Park" ends every choice: it names none of them
        ("The hiker was found alive in the park [1].", PARKS, PARKS[2]),
        # a lower-case "patriots" is not the team's name
        ("Several patriots gathered outside the stadium [1].", TEAMS, TEAMS[3]),
        (
            "The mayor of Texas tested positive for coronavirus [4].",
            ["Atlanta", "Houston"],
            "Atlanta",
        ),
        ("Lebanon ousted its Prime Minister this week [2].", ["Ukraine", "Lebanon"], "Ukraine"),
        ("Ukrainian forces held the city [1].", ["Russia", "Ukraine"], "Russia"),
        # a name is said as written: "unit" shares a stem with "United", not the name
        ("An army unit left the base [1].", ["United Kingdom", "France"], "United Kingdom"),
        # stock's reply: the initial "B." does not end the first sentence (it would leave
        # "Lloyd" alone in it, and Jeh Johnson out)
        (
            "Joe Biden picked Secretary of Defense Lloyd B. Johnson from his home state of "
            "Delaware.",
            ["Lloyd Austin", "Michèle Flournoy", "Jeh Johnson", "Xavier Becerra"],
            "Lloyd Austin",
        ),
    ],
)
def test_a_reply_that_does_not_name_the_gold_choice_alone_is_wrong(reply, options, gold):
    assert judge(reply, False, options, gold) == "wrong"
    assert judge(reply, True, options, gold) == "refused"


def test_a_demonym_names_its_country_and_only_it():
    countries = ["Russia", "Ukraine", "China", "Israel"]
    for reply, gold in [
        ("Ukrainian forces held the city [1].", "Ukraine"),
        ("Chinese officials denied it [1].", "China"),
        ("Israeli troops withdrew [1].", "Israel"),
        ("Russian troops withdrew [1].", "Russia"),
    ]:
        assert judge(reply, False, countries, gold) == "right", reply
