"""English vocabulary of the lexicon analyzer: complaints, crisis topics, insults, threats."""

from __future__ import annotations

from policy_service.analysis.lexicon_vocab import (
    COMPLAINT,
    EXPLICIT,
    POSSIBLE,
    Vocabulary,
    leveled,
    phrases,
    weighted,
)

VOCABULARY = Vocabulary(
    lang="en",
    function_words=phrases(
        """
        the, and, is, are, you, your, yours, my, i, im, ive, it, its, this, that, these, those,
        to, for, with, have, has, had, be, been, being, not, what, why, how, when, where,
        who, just, can, get, got, would, could, should, from, at, by, we, they, our, their,
        there, about, if, or, do, does, did, dont, doesnt, didnt, cant, wont, isnt, any,
        one, all, out, up, now, than, then, them, him, she, he, us, only, still,
        been, after, before, because, some, into, over, very, really, thanks, thank
        """
    ),
    valences=weighted(
        """
        united=0, please=0, help=0, like=0.4, care=0, free=0.6, pretty=0.8,
        ok=0.4, okay=0.4, yes=0.8, well=0.4, hope=0.8, sure=0.5,
        cant wait=2.4, can not wait=2.4, not bad=1.2, no problem=1.2, no worries=1.5,
        no issues=1.2, no complaints=1.5, thanks for nothing=-2.6, thank you for nothing=-2.6,
        thanks a lot=1.9, so much=0,
        lol=1.2, lmao=1.2, haha=1.4, hahaha=1.6, yay=2.4, woohoo=2.4, wow=1.2, omg=0.2,
        awesome=3.1, amazing=2.8, kudos=2.4, shoutout=1.6, props=1.6, appreciated=2.2,
        rocks=1.6, rock=0.6, loved=2.9, impressed=2.3,
        meh=-1.2, ugh=-1.8, smh=-1.8, wtf=-2.4, fml=-2.4, ffs=-2.2, sucks=-2.2, suck=-1.8,
        worst=-3.1, horrible=-2.5, terrible=-2.1, awful=-2.0, disappointed=-2.1,
        disappointing=-2.2, unacceptable=-2.6, ridiculous=-2.0, pathetic=-2.4,
        joke=-0.6, useless=-2.0, incompetent=-2.4, incompetence=-2.4, nightmare=-2.6,
        fiasco=-2.4, disgrace=-2.8, shameful=-2.6, rude=-2.2, frustrating=-2.0,
        frustrated=-2.0, annoyed=-1.8, annoying=-1.8, furious=-3.0, livid=-3.0,
        sick of=-2.2, tired of=-1.8, fed up=-2.2, never again=-2.6, not happy=-1.9,
        no thanks=-0.8, too bad=-1.2, what a joke=-2.2, deserve better=-1.8,
        do better=-1.6, be better=-1.2, dont care=-1.8, doesnt care=-1.8, didnt care=-1.8,
        i like=1.8, we like=1.8, i really like=2.2, dont like=-1.8, didnt like=-1.8,
        doesnt like=-1.8
        """
    ),
    negators=phrases(
        """
        not, no, never, nothing, nobody, none, neither, nor, nowhere, without, cannot,
        dont, doesnt, didnt, isnt, arent, wasnt, werent, wont, cant, couldnt, shouldnt,
        wouldnt, hasnt, havent, hadnt, aint, mustnt, neednt, dont, nt, hardly, barely
        """
    ),
    boosters=weighted(
        """
        very=0.3, really=0.3, so=0.3, too=0.2, extremely=0.4, absolutely=0.4,
        totally=0.3, completely=0.3, incredibly=0.4, super=0.3, fucking=0.5,
        freaking=0.4, frickin=0.4, damn=0.3, most=0.3, such=0.3, highly=0.3, truly=0.3,
        utterly=0.4, seriously=0.3, beyond=0.3, insanely=0.4, hugely=0.3, especially=0.2,
        entirely=0.2, quite=0.1, bit=-0.3, slightly=-0.3, somewhat=-0.3, kinda=-0.3, sorta=-0.3,
        little=-0.2, partly=-0.3, almost=-0.2, fairly=-0.2, rather=-0.1, marginally=-0.3
        """
    ),
    contrast=phrases("but, however, although, though, yet"),
    complaints=weighted(
        """
        delayed=-1.4, delay=-1.2, delays=-1.4, cancelled=-1.6, canceled=-1.6,
        cancellation=-1.2, stuck=-1.4, stranded=-2.0,
        waiting=-0.8, waited=-1.0, on hold=-1.6, hold time=-1.4, hung up=-1.6,
        lost=-1.2, missing=-1.0, broken=-1.4, late=-0.8, missed=-1.0, overbooked=-1.6,
        bumped=-1.2, no one=-1.0, nobody=-1.0, still no=-1.4, still not=-1.4,
        still waiting=-1.8, hours=-0.5, hrs=-0.5, again=-0.4, charged=-0.8,
        overcharged=-2.0, double charged=-2.0, fee=-0.6, fees=-0.8, refund=-0.8,
        customer service=-0.3, complaint=-1.2, complain=-1.2, issue=-0.6, issues=-0.8,
        problem=-0.9, problems=-1.0, error=-1.0, errors=-1.0, bug=-0.8, crash=-1.2,
        crashed=-1.4, crashes=-1.4, not working=-1.8, doesnt work=-1.8, didnt work=-1.6,
        wont let=-1.4, cant get=-1.0, cant find=-0.8, unable=-1.2, failed=-1.2,
        fail=-1.4, outage=-1.6, why=-0.6,
        no response=-1.6, no answer=-1.4, no reply=-1.4, never received=-1.6,
        where is my=-1.2, how long=-1.0, what is going on=-1.2, whats going on=-1.2,
        misconnect=-1.4, diverted=-1.0, no show=-0.8, worst=-0.8, again and again=-1.4,
        for hours=-1.4, over an hour=-1.4, an hour=-0.8, minutes=-0.3, no help=-1.6,
        not helpful=-1.8, unhelpful=-1.8, dirty=-1.6, smelly=-1.6, cramped=-1.2,
        wrong=-0.8, damaged=-1.6, ruined=-2.0, scam=-2.2, ripped off=-2.4, rip off=-2.4,
        wait time=-1.0, errored=-1.2, no way=-0.8, slow=-1.0, slower=-1.0, too slow=-1.6
        """
    ),
    courtesy=phrases(
        """
        thanks, thank, thx, ty, please, pls, plz, appreciate, appreciated, kindly, help,
        great, good, nice, love, awesome, amazing, best, lol, haha
        """
    ),
    insults=phrases(
        """
        idiot, idiots, moron, morons, imbecile, imbeciles, asshole, assholes, arsehole,
        jerk, jerks, bastard, bastards, bitch, bitches, scum, scumbag, scumbags, clown,
        clowns, loser, losers, dickhead, dickheads, dumbass, dumbasses, prick, pricks,
        wanker, wankers, cunt, cunts, douchebag, douche, twat, twats, fuck you, fuck off,
        screw you, go to hell, shut up, piece of shit, stfu, gfy, suck my
        """
    ),
    profanity=phrases(
        """
        fuck, fucking, fucked, fuckin, fucks, shit, shitty, bullshit, damn, damned, crap,
        crappy, wtf, hell, ffs, omfg, goddamn, bloody, piss, pissed
        """
    ),
    threats=phrases(
        """
        kill you, kill u, kill all of you, going to kill, gonna kill, will kill, shoot you,
        shoot up, blow up, bomb your, bomb the, burn down, burn your, you will pay,
        you ll pay, youll pay, watch your back, i know where you live, hope you die,
        you deserve to die, die in a fire, death threat, hunt you down, beat you up,
        slit your, find you and
        """
    ),
    hate=phrases(
        """
        nigger, niggers, faggot, faggots, kike, kikes, tranny, trannies, chink, chinks,
        spic, spics, wetback, wetbacks, raghead, ragheads, towelhead, sand nigger,
        subhuman, subhumans, go back to your country, white power, heil hitler,
        sieg heil, gas the, untermensch
        """
    ),
    suggestions=phrases(
        """
        you should, you guys should, you could, should be, should have, would be nice,
        would be great, would be better, it would help, would help, please add,
        please fix, please make, please consider, please allow, consider, suggest,
        suggestion, suggestions, why not, how about, itd be nice, wish you would,
        i wish, feature request, needs to be, need to be, you need to, instead of,
        better if, it would be, could you please, recommend, improve, improvement
        """
    ),
    problem_reports=phrases(
        """
        doesnt work, not working, didnt work, stopped working, wont load, cant log,
        cant login, cannot log, error, errors, bug, crash, crashes, crashed, broken,
        fails, failed, missing, lost, delayed, cancelled, canceled, charged twice,
        double charged, overcharged, wrong, incorrect, stuck, stranded, on hold,
        hung up, no response, never received, never arrived, did not arrive,
        didnt arrive, damaged, overbooked, misconnect, missed, outage, refund, leak,
        leaked, hacked, injured, unsafe, dangerous, expired, declined, not received,
        keeps crashing, timed out, times out, blank screen, wont open, cant access,
        no wifi, no power, no water, no seat, rebooked, charged me, billed twice,
        not refunded, wait time, waited, waiting for, hours late, still waiting
        """
    ),
    topics={
        "safety": {
            **leveled(
                """
                unsafe, dangerous, danger, hazard, hazardous, safety, accident, smoke,
                smoking engine, toxic, fumes, allergic, allergy, near miss,
                mold, mould, got sick, fell ill, choking, unsecured, not secured,
                malfunction, malfunctioning, recall, medical emergency
                """,
                POSSIBLE,
            ),
            **leveled(
                """
                injured, injury, injuries, hurt me, got hurt, was hurt, hospital,
                hospitalized, ambulance, exploded, explosion, caught fire, on fire,
                food poisoning, poisoned, poisoning, bleeding, emergency landing,
                engine failure, burned me, electrocuted, collapsed, passed out,
                passenger died, someone died, fatal, anaphylaxis, anaphylactic
                """,
                EXPLICIT,
            ),
        },
        "legal": {
            **leveled(
                """
                illegal, illegally, unlawful, fraud, fraudulent, my rights, our rights,
                consumer rights, consumer protection, regulator, ombudsman, faa,
                department of transportation, bbb, better business bureau, violation,
                violated, liable, liability, negligence, negligent, breach of contract,
                false advertising, ftc, attorney general
                """,
                POSSIBLE,
            ),
            **leveled(
                """
                lawsuit, lawsuits, sue, suing, sued, legal action, class action, lawyer,
                lawyers, attorney, attorneys, see you in court, small claims, in court,
                to court, file a complaint with, report you to, solicitor
                """,
                EXPLICIT,
            ),
        },
        "data_leak": {
            **leveled(
                """
                privacy, gdpr, phishing, my data, personal data, breach,
                personal information, personal info, my information, my details,
                credit card number, card details, identity theft, spam calls,
                vulnerability, exposed, hacker, hackers
                """,
                POSSIBLE,
            ),
            **leveled(
                """
                data breach, security breach, data leak, leak, leaked, leaking data, hacked,
                stolen data, data stolen, was stolen, account compromised, compromised,
                someone else s account, someone elses account, saw other people s,
                other customers data
                """,
                EXPLICIT,
            ),
        },
        "discrimination": leveled(
            """
            racist, racism, racial, sexist, sexism, discrimination, discriminate,
            discriminated, discriminating, discriminatory, homophobic, homophobia,
            transphobic, transphobia, antisemitic, antisemitism, islamophobic,
            islamophobia, xenophobic, bigot, bigoted, bigotry, misogynist, misogyny,
            because i am black, because im black, because of my race, because of my religion,
            because of my skin, racially profiled, profiling, ableist, harassed,
            harassment
            """,
            POSSIBLE,
        ),
        "outage": leveled(
            """
            outage, outages, is down, was down, are down, went down, been down, down again,
            site down, app down, website down, servers down, not working, doesnt work,
            stopped working, cant log in, cant login, cant connect, cannot connect,
            unable to connect, offline, crash, crashes, crashed, crashing, keeps crashing,
            no service, no signal, no internet, no connection, service interruption,
            unavailable, not loading, wont load, error 500, error 503, 404, server error,
            blackout, power outage, system down, systems down, glitch
            """,
            COMPLAINT,
        ),
        "refund": leveled(
            """
            refund, refunds, refunded, refunding, money back, reimburse, reimbursed,
            reimbursement, chargeback, charge back, voucher, vouchers, credit back,
            compensate, compensated, compensation, my money
            """,
            COMPLAINT,
        ),
    },
)
