"""French vocabulary of the lexicon analyzer: complaints, crisis topics, insults, threats."""

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

# The tokenizer splits on apostrophes and hyphens: "c'est" is "c est",
# "n'importe" is "n importe", "pouvez-vous" is "pouvez vous".
VOCABULARY = Vocabulary(
    lang="fr",
    function_words=phrases(
        """
        le, la, les, de, un, une, des, du, au, aux, et, est, sont, je, tu, il, elle, nous,
        vous, ils, elles, ce, cet, cette, ces, qui, que, qu, quoi, dans, sur, avec, pour,
        pas, mais, ou, où, très, moins, être, été, avoir, fait, faire, tout, tous,
        toute, toutes, mon, ma, mes, ton, ta, tes, son, sa, ses, votre, vos, notre, nos,
        leur, leurs, c, j, l, n, ça, cela, ceci, y, en, ne, rien, jamais, aussi,
        encore, déjà, toujours, depuis, quand, comme, parce, chez, sans, sous, entre,
        merci, bonjour, oui, non, avez, avons, êtes, suis, était, sera, peut, veux,
        faut, chaque, aujourd, hui
        """
    ),
    valences=weighted(
        """
        merci=1.6, merci beaucoup=2.2, bravo=2.6, félicitations=2.8, felicitations=2.8,
        chapeau=2.0, génial=3.0, geniale=3.0, géniale=3.0, super=2.2, top=1.8, cool=1.6,
        adore=2.8, adorer=2.6, j adore=2.8, aime=2.0, aimer=1.8, j aime=2.0, aimé=1.8,
        amour=2.6, bonheur=3.0, heureux=2.6, heureuse=2.6, plaisir=2.2, joie=2.6, rire=1.6,
        rigolo=1.8, drôle=1.6, mdr=1.4, ptdr=1.4, lol=1.2, haha=1.4, hâte=2.0,
        j ai hâte=2.4, content=2.2, contente=2.2, contents=2.2, ravi=2.6, ravie=2.6,
        réussite=2.2, victoire=2.2, succès=2.2, gagné=1.8, gagner=1.4, espoir=1.6,
        paix=1.6, soutien=1.4, solidarité=1.4, fier=2.0, fière=2.0, fiers=2.0, sourire=2.0,
        bisous=2.0, bisou=2.0, magnifique=3.0, parfait=2.8, parfaite=2.8, excellent=3.0,
        excellente=3.0, formidable=3.0, merveilleux=3.0, sympa=2.0, bien=1.0,
        très bien=2.2, trop bien=2.6, bon=1.2, bonne=1.2, meilleur=2.0, meilleure=2.0,
        mieux=1.0, beau=2.0, belle=2.0, beaux=2.0, belles=2.0, joli=1.8, jolie=1.8,
        gentil=2.0, gentille=2.0, agréable=2.2, efficace=1.8, rapide=1.0, enfin=0.4,
        bienvenue=1.6, bravo à=2.6, bonne nouvelle=2.6, bonne journée=1.6,
        bonne soirée=1.6, bonne année=2.0, youpi=2.4, wow=1.2, waouh=1.6, ouf=0.8,
        nul=-2.6, nulle=-2.6, nuls=-2.6, nulles=-2.6, honte=-2.8, honteux=-3.0,
        honteuse=-3.0, scandale=-3.0, scandaleux=-3.0, scandaleuse=-3.0,
        catastrophe=-3.0, catastrophique=-3.0, désastre=-3.0, mort=-2.4, morts=-2.6,
        mourir=-2.6, tué=-3.0, tués=-3.0, tuer=-3.0, attentat=-3.4, attentats=-3.4,
        terroriste=-3.0, terroristes=-3.0, terrorisme=-3.0, guerre=-2.4, crise=-1.8,
        danger=-2.0, peur=-2.0, triste=-2.2, tristesse=-2.4, colère=-2.4, marre=-2.6,
        j en ai marre=-3.0, ras le bol=-2.8, déçu=-2.2, déçue=-2.2, déçus=-2.2,
        déception=-2.4, décevant=-2.2, décevante=-2.2, problème=-1.4, problèmes=-1.6,
        souci=-1.2, soucis=-1.2, arnaque=-3.0, arnaqueurs=-3.2, escroquerie=-3.0,
        escrocs=-3.2, merde=-3.0, chier=-2.6, fait chier=-3.0, pire=-2.6, pourri=-2.6,
        pourrie=-2.6, horrible=-2.8, affreux=-2.6, inadmissible=-3.0, inacceptable=-3.0,
        intolérable=-3.0, inquiétant=-2.0, inquiétude=-1.8, inquiet=-1.6, menace=-2.0,
        menaces=-2.0, pollution=-2.0, destruction=-2.4, victime=-2.0, victimes=-2.2,
        violence=-2.4, violences=-2.4, hélas=-1.6, malheureusement=-1.6, dommage=-1.6,
        grève=-1.0, chômage=-2.0, échec=-2.4, raté=-2.0, fail=-2.0, dégueulasse=-3.0,
        degueu=-2.6, chiant=-2.2, chiante=-2.2, insupportable=-3.0, mensonge=-2.4,
        mensonges=-2.4, menteur=-3.0, menteurs=-3.0, corruption=-3.0, fraude=-3.0,
        ridicule=-2.2, lamentable=-3.0, pathétique=-2.6, pitoyable=-2.8, minable=-2.8,
        déplorable=-2.8, grave=-1.2, galère=-2.0, galérer=-2.0, énervé=-2.4,
        énervant=-2.4, agacé=-2.0, furieux=-3.0, dégoûté=-2.6, dégoût=-2.6, haine=-3.0,
        hais=-3.0, déteste=-3.0, détester=-2.8, inutile=-2.0, incompétent=-2.6,
        incompétents=-2.6, incompétence=-2.6, incapable=-2.4, incapables=-2.4,
        lent=-1.4, lente=-1.4, cher=-0.6, chère=-0.6, trop cher=-2.0, abusé=-2.4,
        abusif=-2.6, abusive=-2.6, n importe quoi=-2.4, foutage de gueule=-3.0,
        se fout=-2.6, se foutent=-2.6, foutez=-2.4, bof=-1.2, pff=-1.6, pfff=-1.8,
        grr=-2.0, argh=-1.8, beurk=-2.2, aïe=-1.2, sérieux=-0.4,
        pas mal=1.2, pas de souci=1.2, pas de problème=1.2, sans souci=1.2,
        sans problème=1.2, pas terrible=-1.8, pas top=-1.6, pas ouf=-1.4,
        plus jamais=-2.6, jamais plus=-2.6, au top=2.2, trop fort=2.4,
        menace=-2.0, menacé=-2.0, menacée=-2.0, menacés=-2.0, menacées=-2.0,
        menacer=-1.8, risque=-1.0, risques=-1.0, urgence=-1.2, gâchis=-2.4, piège=-2.0,
        disparition=-1.6, disparaître=-1.6, disparaissent=-1.6, extinction=-2.2,
        erreur=-1.4, erreurs=-1.4, enfer=-2.8, tueur=-2.6, volé=-2.0, volée=-2.0,
        rejette=-1.0, rejeté=-1.2, bloquer=-1.2, dénonce=-1.6,
        dénoncer=-1.6, accuse=-1.6, polémique=-1.6, dégâts=-2.2, détruit=-2.4,
        détruire=-2.4, pénurie=-2.0, manque=-1.2, manquer=-1.0, hausse=-0.2,
        progrès=1.8, progresser=1.6, progresse=1.6, avancée=1.6, avancées=1.6,
        renforce=1.2, renforcer=1.2, soutenir=1.4, soutenu=1.4, soutenus=1.4, soutien=1.6,
        aide=1.0, aider=1.2, favoriser=1.0, engagement=1.2, engage=1.0, engagent=1.0,
        réussir=2.0, réussi=2.2, améliorer=1.6, amélioration=1.6, innovation=1.6,
        innovant=1.8, innovante=1.8, solution=1.2, solutions=1.2, confiance=1.6,
        sauver=1.6, protéger=1.2, protection=1.0, croissance=1.2, record=0.8,
        gagnant=2.0, gagnants=2.0, félicite=2.4, remercie=2.0, remercier=2.0,
        bienvenue=1.8, partage=0.6, découvrez=0.8, enjoy=1.6, love=2.6,
        tout=0, toute=0, tous=0, toutes=0, plus=0, si=0, très=0, trop=0, grand=0.3,
        grande=0.3, premier=0, première=0, dernier=0, dernière=0, certain=0,
        certaine=0, différent=0, autre=0, autres=0, international=0, social=0,
        sociale=0, français=0, française=0, vieux=0, vieille=0, seul=0, seule=0,
        long=-0.2, longue=-0.2, public=0, publique=0, plein=0, pleine=0, haut=0,
        bas=0, jeune=0, jeunes=0, noir=0, noire=0, sûr=0.2, juste=0.2, fort=0.6, forte=0.6
        """
    ),
    negators=phrases("pas, ne, n, jamais, rien, aucun, aucune, ni, sans, personne, nullement"),
    boosters=weighted(
        """
        très=0.3, trop=0.3, vraiment=0.3, tellement=0.3, si=0.2, super=0.3, hyper=0.3,
        vachement=0.3, grave=0.2, complètement=0.3, totalement=0.3, absolument=0.4,
        extrêmement=0.4, particulièrement=0.2, franchement=0.2, carrément=0.3,
        putain=0.4, bien=0.1, tout=0.1, énormément=0.3, profondément=0.3,
        peu=-0.3, plutôt=-0.2, assez=-0.1, légèrement=-0.3, presque=-0.2
        """
    ),
    contrast=phrases("mais, cependant, pourtant, néanmoins, toutefois, sauf que"),
    complaints=weighted(
        """
        retard=-1.4, retards=-1.4, en retard=-1.6, annulé=-1.6, annulée=-1.6,
        annulation=-1.2, bloqué=-1.4, bloquée=-1.4, bloqués=-1.4, coincé=-1.4,
        attente=-1.0, attendre=-0.6, j attends=-1.2, toujours pas=-1.6, toujours rien=-1.8,
        encore une fois=-1.2, encore=-0.3, depuis=-0.3, heures=-0.4, perdu=-1.2,
        perdue=-1.2, perdus=-1.2, cassé=-1.4, cassée=-1.4, panne=-1.6, en panne=-1.8,
        ne marche pas=-1.8, marche pas=-1.8, ne fonctionne pas=-1.8,
        fonctionne pas=-1.8, ne fonctionne plus=-2.0, marche plus=-2.0,
        hors service=-1.8, coupure=-1.6, coupé=-1.2, bug=-1.2, beug=-1.2, bugue=-1.4,
        plantage=-1.6, plante=-0.8, impossible=-1.4, erreur=-1.0, facturé=-0.8,
        prélevé=-0.8, prélèvement=-0.6, frais=-0.6, remboursement=-0.8,
        réclamation=-1.2, plainte=-1.4, personne ne=-1.4, aucune réponse=-1.8,
        pas de réponse=-1.8, sans réponse=-1.8, pourquoi=-0.6, service client=-0.3,
        débit=-0.4, lenteur=-1.6, lenteurs=-1.6, injoignable=-2.0, raccroché=-1.6,
        sale=-1.4, abîmé=-1.6, abîmée=-1.6, endommagé=-1.6, jamais reçu=-1.8,
        pas reçu=-1.6, toujours en attente=-2.0
        """
    ),
    courtesy=phrases(
        "merci, svp, stp, s il vous plaît, s il te plaît, bonjour, bonsoir, cordialement, "
        "bien, bon, bonne, super, top"
    ),
    insults=phrases(
        """
        connard, connards, connasse, connasses, abruti, abrutis, abrutie, débile,
        débiles, crétin, crétins, crétine, imbécile, imbéciles, idiot, idiots, idiote,
        enfoiré, enfoirés, enculé, enculés, salaud, salauds, salope, salopes, ordure,
        ordures, pourriture, pourritures, bouffon, bouffons, guignol, guignols, fdp,
        fils de pute, pute, putes, va te faire foutre, allez vous faire foutre,
        ta gueule, vos gueules, ferme ta gueule, nique ta, nique vos, je vous emmerde,
        je t emmerde, tocard, tocards, minables, sale con
        """
    ),
    profanity=phrases(
        "putain, ptn, merde, bordel, chier, fait chier, wtf, bordel de merde, putin, foutre, "
        "foutu, foutue, emmerde, emmerdes"
    ),
    threats=phrases(
        """
        je vais te tuer, je vais vous tuer, te tuer, vous tuer, je vais te buter,
        te buter, vous buter, crève, crèves, crevez, va crever, allez crever,
        je sais où tu habites, je sais où vous habitez, faire sauter, tout faire sauter,
        mettre le feu, brûler vos, vous allez le payer, tu vas le payer, vous allez payer,
        tu vas payer, te défoncer, vous défoncer, te casser la gueule, égorger,
        menace de mort, menaces de mort
        """
    ),
    hate=phrases(
        """
        sale arabe, sales arabes, sale juif, sales juifs, sale noir, sales noirs,
        bougnoule, bougnoules, youpin, youpins, nègre, nègres, bamboula, pédé, pédés,
        tarlouze, tarlouzes, sous homme, sous hommes, rentre chez toi, retourne dans ton pays,
        retournez dans votre pays, heil hitler, sieg heil, race inférieure
        """
    ),
    suggestions=phrases(
        """
        vous devriez, tu devrais, il faudrait, faudrait, ce serait bien, ce serait mieux,
        serait bien, serait mieux, serait top, pourriez vous, pourrais tu, pouvez vous,
        je suggère, je propose, suggestion, proposition, pourquoi ne pas,
        ajoutez, ajouter, au lieu de, plutôt que, il manque, améliorer,
        amélioration, il serait bon, merci de corriger, merci de réparer, vous pourriez,
        on pourrait
        """
    ),
    problem_reports=phrases(
        """
        ne marche pas, marche pas, ne fonctionne pas, fonctionne pas, ne fonctionne plus,
        marche plus, panne, en panne, hors service, coupure, coupé, bug, beug, bugue,
        plantage, plante, erreur, impossible de, retard, en retard, annulé, annulée,
        perdu, perdue, cassé, cassée, bloqué, bloquée, facturé deux fois,
        prélevé deux fois, jamais reçu, pas reçu, injoignable, raccroché, endommagé,
        abîmé, lenteur, débit, pas de réseau, pas de connexion, plus de connexion,
        pas d internet, plus d internet, fuite, piraté, blessé, dangereux,
        toujours en attente, remboursement, pas remboursé, jamais remboursé
        """
    ),
    topics={
        "safety": {
            **leveled(
                """
                dangereux, dangereuse, danger, sécurité, accident, fumée, toxique,
                allergie, allergique, malaise, insalubre, moisissure, rappel produit,
                intoxication alimentaire
                """,
                POSSIBLE,
            ),
            **leveled(
                """
                blessé, blessée, blessés, blessure, blessures, hôpital, hospitalisé,
                hospitalisée, urgences, samu, pompiers, explosion, explosé, a explosé,
                incendie, en feu, pris feu, intoxication, intoxiqué, intoxiqués,
                empoisonné, empoisonnement, brûlé, brûlure, électrocuté, atterrissage
                d urgence, évanoui
                """,
                EXPLICIT,
            ),
        },
        "legal": {
            **leveled(
                """
                illégal, illégale, illégaux, illégalement, fraude, frauduleux, escroquerie,
                mes droits, nos droits, droit de la consommation, ufc, que choisir, dgccrf,
                médiateur, arcep, cnil, juridique, abusif, clause abusive, publicité
                mensongère, pratique commerciale trompeuse, 60 millions de consommateurs
                """,
                POSSIBLE,
            ),
            **leveled(
                """
                avocat, avocats, porter plainte, porte plainte, déposer plainte, dépôt de
                plainte, plainte contre, procès, tribunal, en justice, action en justice,
                action de groupe, mise en demeure, huissier, poursuivre en justice,
                poursuites, je vous attaque
                """,
                EXPLICIT,
            ),
        },
        "data_leak": {
            **leveled(
                """
                données personnelles, mes données, vos données, rgpd, vie privée,
                confidentialité, hameçonnage, phishing, usurpation d identité,
                coordonnées bancaires, pirate, pirates, faille, faille de sécurité
                """,
                POSSIBLE,
            ),
            **leveled(
                """
                fuite de données, fuite des données, fuites de données, ont fuité,
                a fuité, fuité, piraté, piratée,
                piratage, données volées, compte compromis, cyberattaque,
                hacké, hackée
                """,
                EXPLICIT,
            ),
        },
        "discrimination": leveled(
            """
            raciste, racistes, racisme, sexiste, sexistes, sexisme, discrimination,
            discriminations, discriminé, discriminée, discriminatoire, homophobe,
            homophobes, homophobie, transphobe, transphobie, antisémite, antisémitisme,
            islamophobe, islamophobie, xénophobe, xénophobie, misogyne, misogynie,
            parce que je suis noir, parce que je suis noire, à cause de ma couleur,
            délit de faciès, contrôle au faciès, harcèlement, harcelé, harcelée
            """,
            POSSIBLE,
        ),
        "outage": leveled(
            """
            panne, pannes, en panne, ne marche pas, marche pas, ne fonctionne pas,
            fonctionne pas, ne fonctionne plus, marche plus, hors service, coupure,
            coupures, plus de réseau, pas de réseau, pas de connexion, plus de connexion,
            pas d internet, plus d internet, plus de tv, plus de télé, inaccessible,
            indisponible, plantage, plante, bug, beug, bugue, down, hs, injoignable,
            site inaccessible, appli plante, application plante
            """,
            COMPLAINT,
        ),
        "refund": leveled(
            """
            remboursement, remboursements, rembourser, remboursé, remboursée,
            remboursez, rembourse, dédommagement, dédommager, indemnisation, indemniser,
            geste commercial, mon argent, mon fric, trop perçu, rétrofacturation
            """,
            COMPLAINT,
        ),
    },
)
