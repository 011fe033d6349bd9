"""German vocabulary of the lexicon analyzer: complaints, crisis topics, insults, threats."""

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

# Spellings with "ss" for "ß" and "ae", "oe", "ue" for umlauts are added at
# load; German compounds are caught by `topic_stems` inside words.
VOCABULARY = Vocabulary(
    lang="de",
    function_words=phrases(
        """
        der, die, das, und, ist, nicht, ich, du, er, sie, wir, ihr, es, ein, eine, einen,
        einem, einer, eines, zu, mit, auf, für, von, dem, den, auch, noch, nur, schon, wie,
        aber, oder, wenn, dass, daß, sind, bin, hat, habe, haben, wird, werden, kann,
        können, mal, jetzt, heute, hier, mein, meine, meinen, dein, deine, sehr, kein,
        keine, nach, bei, aus, vom, zum, zur, im, über, doch, ja, nein, nichts,
        gibt, sich, mich, dich, mir, dir, uns, euch, ihm, ihn, diese, dieser, dieses,
        waren, wurde, immer, einfach, danke, bitte, wieder, warum,
        weil, seit, gerade, endlich, etwas, alle, alles, viel, mehr, heute, morgen, gut
        """
    ),
    valences=weighted(
        """
        danke=1.6, vielen dank=2.2, danke schön=2.2, dankeschön=2.2, dank=1.0,
        super=2.2, toll=2.6, geil=2.4, klasse=2.2, prima=2.2, cool=1.6, schön=2.2,
        schöne=2.2, schönen=2.0, schöner=2.0, liebe=2.4, lieben=2.2, liebt=2.2, lieb=2.0,
        freue=2.4, freuen=2.2, freut=2.2, freude=2.6, glücklich=2.8, gut=1.8, gute=1.8,
        guten=1.2, guter=1.8, gutes=1.8, besser=1.4, beste=2.6, besten=2.4, spitze=2.4,
        genial=3.0, wunderbar=3.0, wunderschön=3.0, perfekt=2.8, lustig=2.0, lachen=1.6,
        haha=1.4, hahaha=1.6, lol=1.2, gerne=1.6, gern=1.4, glückwunsch=2.6,
        herzlichen glückwunsch=2.8, gratuliere=2.6, gratulation=2.6, bravo=2.6,
        yeah=2.0, juhu=2.4, yay=2.4, wow=1.6, hurra=2.4, spaß=2.4, hammer=1.6,
        mega=1.2, grandios=3.0, hervorragend=3.0, ausgezeichnet=3.0, großartig=3.0,
        fantastisch=3.0, traumhaft=2.8, empfehlenswert=2.4, zufrieden=2.2, hoffe=0.8,
        hoffentlich=0.6, frohe=2.2, frohes=2.2, schönes wochenende=2.2,
        gute nacht=1.4, guten morgen=1.2, viel erfolg=2.0, viel spaß=2.4, endlich=0.6,
        respekt=1.8, sympathisch=2.2, witzig=2.0, süß=2.2, hübsch=2.2, stark=1.2,
        leider=-1.6, schade=-1.8, scheiße=-3.0, scheiß=-2.8, mist=-2.2, kacke=-2.6,
        doof=-2.0, blöd=-2.2, blöde=-2.2, dumm=-2.4, dumme=-2.4, nervt=-2.2, nervig=-2.2,
        nerven=-1.4, ärgerlich=-2.2, ärgert=-2.0, wütend=-2.8, wut=-2.6, traurig=-2.4,
        schlecht=-2.4, schlechte=-2.4, schlechter=-2.2, schlimm=-2.4, schlimmer=-2.4,
        schrecklich=-2.8, furchtbar=-2.8, katastrophe=-3.0, katastrophal=-3.0,
        peinlich=-2.4, enttäuscht=-2.4, enttäuschend=-2.4, enttäuschung=-2.4,
        langweilig=-2.0, hass=-3.0, hasse=-3.0, hassen=-2.8, tot=-2.2, tote=-2.6,
        toten=-2.6, sterben=-2.4, angst=-2.0, krieg=-2.4, terror=-3.0, problem=-1.4,
        probleme=-1.6, frech=-2.0, unverschämt=-3.0, unverschämtheit=-3.0,
        unmöglich=-1.6, sauer=-2.0, kotzen=-3.0, zum kotzen=-3.2, nie wieder=-2.6,
        lügen=-2.4, lüge=-2.4, lügner=-3.0, skandal=-3.0, skandalös=-3.0, schande=-3.0,
        frechheit=-3.0, zumutung=-3.0, sauerei=-3.0, abzocke=-3.0, betrug=-3.0,
        betrüger=-3.2, unfähig=-2.6, inkompetent=-2.6, versagt=-2.4, versagen=-2.4,
        armselig=-2.6, erbärmlich=-2.8, lächerlich=-2.4, ätzend=-2.6, übel=-2.2,
        krank=-1.8, gefährlich=-2.2, sorge=-1.6, sorgen=-1.6, schmerz=-2.2,
        schmerzen=-2.2, unglück=-2.4, pech=-1.8, ärger=-2.0, stress=-1.6, müde=-1.0,
        hässlich=-2.4, ekelhaft=-3.0, eklig=-2.8, widerlich=-3.0, mies=-2.4, miese=-2.4,
        naja=-0.6, na ja=-0.6, hm=-0.2, ups=-0.6, oh nein=-1.8, argh=-1.8, grr=-2.0,
        nicht schlecht=1.4, kein problem=1.2, keine sorge=1.2, ohne probleme=1.2,
        nicht so toll=-1.8, nicht so gut=-1.8, nicht gut=-2.0,
        lecker=2.4, erfolgreich=2.2, erfolg=2.0, dankbar=2.2, aufgeregt=0.8,
        anstrengend=-1.6, quatsch=-1.6, kein bock=-2.2, keinen bock=-2.2, seufz=-1.4,
        unverantwortlich=-2.6, zerstört=-2.4, im arsch=-2.6, arsch=-1.8, farce=-2.4,
        weine=-2.0, weinen=-1.8, heule=-2.0, heulen=-1.6, vermisse=-1.0, fehlt mir=-1.0,
        einfach=0, echt=0, glaube=0, glauben=0.3, wirklich=0, richtig=0.5, sicher=0.3,
        klar=0.4, natürlich=0.2, bestimmt=0, wohl=0, hoch=0, tief=-0.3, frei=0.5,
        offen=0.2, recht=0.3, kaufen=0, bezahlen=-0.3, bleiben=0, helfen=0.3, feuer=0,
        kraft=0.5, lieber=0.3, danke für nichts=-2.6, mag=1.4, magst=1.4, mögt=1.4,
        gefällt=2.0, gefallen=1.6
        """
    ),
    negators=phrases(
        """
        nicht, nie, niemals, kein, keine, keiner, keinen, keinem, keines, nichts,
        niemand, weder, ohne, nix, net
        """
    ),
    boosters=weighted(
        """
        sehr=0.3, so=0.2, echt=0.3, total=0.3, völlig=0.3, absolut=0.4, extrem=0.4,
        richtig=0.3, wirklich=0.3, besonders=0.2, mega=0.3, voll=0.3, unglaublich=0.4,
        höchst=0.3, äußerst=0.4, ziemlich=0.1, zu=0.1, verdammt=0.4, total=0.3,
        tierisch=0.3, wahnsinnig=0.4, super=0.3, überaus=0.3, sowas von=0.4,
        etwas=-0.2, bisschen=-0.3, kaum=-0.3, wenig=-0.2, eher=-0.2, leicht=-0.2
        """
    ),
    contrast=phrases("aber, jedoch, allerdings, trotzdem, dennoch, sondern"),
    complaints=weighted(
        """
        verspätung=-1.6, verspätet=-1.6, verspätungen=-1.6, ausgefallen=-1.6,
        ausfall=-1.4, fällt aus=-1.6, storniert=-1.2, gestrichen=-1.2, warte=-1.0,
        warten=-0.8, wartezeit=-1.2, warteschleife=-1.8, immer noch=-1.0,
        immer noch nicht=-1.8, schon wieder=-1.6, wieder mal=-1.4, stunden=-0.4,
        verloren=-1.2, kaputt=-1.8, defekt=-1.8, störung=-1.6, störungen=-1.6,
        funktioniert nicht=-1.8, geht nicht=-1.4, klappt nicht=-1.6,
        funktioniert nicht mehr=-2.0, geht nicht mehr=-1.8, fehler=-1.2,
        fehlermeldung=-1.4, absturz=-1.6, stürzt ab=-1.8, abgestürzt=-1.6,
        keine antwort=-1.8, keine reaktion=-1.8, niemand=-1.0, erreichbar=-0.4,
        nicht erreichbar=-2.0, unerreichbar=-2.0, beschwerde=-1.4, reklamation=-1.2,
        abgebucht=-0.8, gebühr=-0.6, gebühren=-0.8, erstattung=-0.8, warum=-0.6,
        wieso=-0.6, weshalb=-0.6, kundenservice=-0.3, hotline=-0.4, dreckig=-1.6,
        beschädigt=-1.6, nie angekommen=-1.8, nicht angekommen=-1.6,
        nicht erhalten=-1.6, noch nicht erhalten=-1.8, zu spät=-1.4
        """
    ),
    courtesy=phrases(
        "danke, bitte, vielen dank, dank, hallo, grüße, gruß, freundlichen, gut, gute, super, toll"
    ),
    insults=phrases(
        """
        idiot, idioten, vollidiot, vollidioten, arschloch, arschlöcher, wichser, depp,
        deppen, trottel, penner, hurensohn, hurensöhne, schlampe, schlampen, spast,
        spasti, missgeburt, missgeburten, dreckspack, gesindel, versager, vollpfosten,
        honk, hirni, spacko, drecksau, dreckschwein, fick dich, fickt euch,
        verpiss dich, verpisst euch, halt die fresse, haltet die fresse, halts maul,
        halt s maul, du opfer, bastard, bastarde, mistkerl, mistkerle, dummkopf,
        schwachkopf, pisser, vollhorst, lappen
        """
    ),
    profanity=phrases(
        "scheiße, scheiß, verdammt, verdammte, mist, kacke, fuck, fucking, verfickt, "
        "verfickte, wtf, kotz, kotzen, verflucht, zum teufel"
    ),
    threats=phrases(
        """
        ich bring dich um, bring dich um, bringe dich um, ich bringe euch um, bringe euch um,
        bring euch um, umbringen, abstechen, ich stech dich ab, ich weiß wo du wohnst,
        ich weiß wo ihr wohnt, abfackeln, in die luft jagen, in die luft sprengen,
        du wirst sterben, ihr werdet sterben, verreck, verrecke, verreckt, stirb,
        ihr werdet dafür bezahlen, du wirst dafür bezahlen, das wirst du bereuen,
        kopf abreißen, morddrohung, morddrohungen, erschießen, abknallen
        """
    ),
    hate=phrases(
        """
        kanake, kanaken, neger, judensau, judenschwein, untermensch, untermenschen,
        ausländer raus, sieg heil, heil hitler, schwuchtel, schwuchteln, zigeunerpack,
        asylantenpack, volksschädling, volksschädlinge, sandneger, kameltreiber,
        geh zurück in dein land, gas geben juden
        """
    ),
    suggestions=phrases(
        """
        ihr solltet, sie sollten, du solltest, solltet ihr, sollten sie, wäre schön,
        wäre gut, wäre toll, wäre besser, wäre super, wäre nett, könntet ihr, könnten sie,
        könntest du, bitte fügt, bitte macht, bitte behebt, vorschlag, ich schlage vor,
        warum nicht, anstatt, es fehlt, verbessern, verbesserung,
        wünsche mir, wünschenswert, man könnte, ihr könntet
        """
    ),
    problem_reports=phrases(
        """
        funktioniert nicht, geht nicht, klappt nicht, funktioniert nicht mehr,
        geht nicht mehr, fehler, fehlermeldung, absturz, stürzt ab, abgestürzt, kaputt,
        defekt, störung, ausgefallen, ausfall, verspätung, verspätet, storniert,
        verloren, nicht erreichbar, doppelt abgebucht, zweimal abgebucht,
        nie angekommen, nicht angekommen, nicht erhalten, beschädigt, kein netz,
        kein internet, keine verbindung, warteschleife, gehackt, datenleck, verletzt,
        gefährlich, erstattung, nicht erstattet
        """
    ),
    topics={
        "safety": {
            **leveled(
                """
                gefährlich, gefahr, gefährdet, sicherheit, unfall, rauch, qualm, giftig,
                allergie, allergisch, schimmel, sicherheitsrisiko,
                lebensgefährlich, brandgefahr, lebensmittelvergiftung
                """,
                POSSIBLE,
            ),
            **leveled(
                """
                verletzt, verletzte, verletzung, verletzungen, krankenhaus, notaufnahme,
                notarzt, krankenwagen, rettungswagen, explodiert, explosion, brand,
                brannte, in flammen, feuer gefangen, vergiftet, vergiftung, verbrannt,
                verbrennung, stromschlag, notlandung, bewusstlos, zusammengebrochen
                """,
                EXPLICIT,
            ),
        },
        "legal": {
            **leveled(
                """
                illegal, rechtswidrig, gesetzwidrig, betrug, betrügerisch, verbraucherzentrale,
                verbraucherschutz, meine rechte, unsere rechte, bundesnetzagentur,
                schlichtungsstelle, ombudsmann, unzulässig, verstoß, haftung, fahrlässig,
                fahrlässigkeit, irreführend, klage
                """,
                POSSIBLE,
            ),
            **leveled(
                """
                anwalt, anwältin, rechtsanwalt, anwälte, klage einreichen, verklagen,
                verklage, vor gericht, gerichtlich, rechtliche schritte, abmahnung,
                strafanzeige, anzeige erstatten, anzeige gegen, sammelklage, mahnbescheid
                """,
                EXPLICIT,
            ),
        },
        "data_leak": {
            **leveled(
                """
                datenschutz, dsgvo, meine daten, persönliche daten, personenbezogene daten,
                privatsphäre, phishing, identitätsdiebstahl, kontodaten, bankdaten,
                sicherheitslücke, hacker
                """,
                POSSIBLE,
            ),
            **leveled(
                """
                datenleck, datenlecks, datenpanne, datenklau, gehackt, gehackter,
                hackerangriff, cyberangriff, daten gestohlen, daten geklaut,
                konto kompromittiert, kompromittiert, daten veröffentlicht
                """,
                EXPLICIT,
            ),
        },
        "discrimination": leveled(
            """
            rassistisch, rassist, rassisten, rassismus, sexistisch, sexismus,
            diskriminierung, diskriminiert, diskriminierend, homophob, homophobie,
            transphob, antisemitisch, antisemitismus, islamfeindlich, fremdenfeindlich,
            fremdenfeindlichkeit, frauenfeindlich, weil ich schwarz bin, wegen meiner
            hautfarbe, wegen meiner herkunft, racial profiling, belästigung, belästigt
            """,
            POSSIBLE,
        ),
        "outage": leveled(
            """
            störung, störungen, ausfall, ausgefallen, funktioniert nicht, geht nicht,
            funktioniert nicht mehr, geht nicht mehr, kein netz, kein internet,
            keine verbindung, kein empfang, offline, absturz, stürzt ab, abgestürzt,
            nicht erreichbar, down, serverprobleme, netzausfall, stromausfall,
            app geht nicht, seite geht nicht
            """,
            COMPLAINT,
        ),
        "refund": leveled(
            """
            erstattung, rückerstattung, erstatten, zurückerstatten, erstattet,
            geld zurück, mein geld, entschädigung, gutschrift, gutschein, rückzahlung,
            rückbuchung, kulanz
            """,
            COMPLAINT,
        ),
    },
    topic_stems={
        "safety": {"vergift": EXPLICIT, "sicherheitsmang": POSSIBLE},
        "legal": {"verklag": EXPLICIT, "rechtsanw": EXPLICIT, "verbraucherzentr": POSSIBLE},
        "data_leak": {"datenleck": EXPLICIT, "datenpann": EXPLICIT, "datenschutzverl": POSSIBLE},
        "discrimination": {"rassis": POSSIBLE, "diskrimin": POSSIBLE},
        "outage": {"störung": COMPLAINT, "ausfall": COMPLAINT},
        "refund": {"erstatt": COMPLAINT, "entschädig": COMPLAINT},
    },
    post_negators=frozenset({"nicht", "nie", "niemals"}),
)
