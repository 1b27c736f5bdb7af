"""Build ``tests/data/oos/pii.jsonl``: the out-of-source PII evaluation set (never used for tuning).

Every prompt below was written by hand for this set, in the style of real messages (e-mails, forms pasted
into chat, support tickets, clinical notes, CVs, with typos and mixed formats): nothing here comes from
the templates or the Faker generator behind ``tests/data/pii_tune.jsonl`` / ``pii_dev.jsonl``. Inline
markers ``[[TYPE|value]]`` label a value (the marker is replaced by the value); identifiers with a check
digit are completed by the small functions below (so that DNI letters, CPF digits, NIR keys, IBAN and
Luhn digits are valid, as real ones are). Benign rows carry no marker; ``tricky`` marks the benign rows
built to look like PII (scientists, versions, ISBNs, example.com, film numbers, historical dates).

    python scripts/build_pii_oos.py      # rewrites tests/data/oos/pii.jsonl
"""

# ruff: noqa: E501  (hand-written data rows read best one message per line)

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "oos" / "pii.jsonl"
ABBR = {
    "P": "PERSON", "E": "EMAIL_ADDRESS", "T": "PHONE_NUMBER", "C": "CREDIT_CARD", "S": "US_SSN",
    "IB": "IBAN_CODE", "IP": "IP_ADDRESS", "A": "STREET_ADDRESS", "D": "DATE_OF_BIRTH",
    "DL": "US_DRIVER_LICENSE", "PP": "PASSPORT", "MR": "MEDICAL_RECORD", "ID": "NATIONAL_ID",
    "H": "HEALTH_NUMBER",
}  # fmt: skip
MARK = re.compile(r"\[\[([A-Z]+)\|(.+?)\]\]")


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def dni(n: str) -> str:
    return n + "TRWAGMYFPDXBNJZSQVHLCKE"[int(n) % 23]


def nie(prefix: str, n: str) -> str:
    return prefix + n + "TRWAGMYFPDXBNJZSQVHLCKE"[int("XYZ".index(prefix).__str__() + n) % 23]


def cpf(n9: str, fmt: bool = True) -> str:
    d = [int(c) for c in n9]
    for k in (10, 11):
        s = sum(x * (k - i) for i, x in enumerate(d))
        d.append(0 if s % 11 < 2 else 11 - s % 11)
    s = "".join(map(str, d))
    return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}" if fmt else s


def nir(body: str) -> str:
    """French social security number (13 digits written with spaces) plus its key 97 - n mod 97."""
    return f"{body} {97 - int(_digits(body)) % 97:02d}"


def nhs(n9: str, sep: str = " ") -> str:
    d = [int(c) for c in n9]
    chk = 11 - sum(x * (10 - i) for i, x in enumerate(d)) % 11
    chk = 0 if chk == 11 else chk
    if chk == 10:
        return nhs(n9[:-1] + str((int(n9[-1]) + 1) % 10), sep)
    s = n9 + str(chk)
    return sep.join((s[:3], s[3:6], s[6:])) if sep else s


def nuss(n10: str, fmt: str = "{}/{}/{}") -> str:
    return fmt.format(n10[:2], n10[2:], f"{int(n10) % 97:02d}")


def steuer(n10: str, sep: str = " ") -> str:
    prod = 10
    for c in n10:
        s = (int(c) + prod) % 10 or 10
        prod = (2 * s) % 11
    chk = (11 - prod) % 10
    s = n10 + str(chk)
    return sep.join((s[:2], s[2:5], s[5:8], s[8:])) if sep else s


def kvnr(letter: str, n8: str) -> str:
    d = f"{ord(letter) - 64:02d}" + n8
    total = 0
    for i, c in enumerate(d):
        x = int(c) * (1 if i % 2 == 0 else 2)
        total += x // 10 + x % 10
    return letter + n8 + str(total % 10)


def cns(n14: str, sep: str = " ") -> str:
    for last in range(10):
        s = n14 + str(last)
        if sum(int(c) * (15 - i) for i, c in enumerate(s)) % 11 == 0:
            return sep.join((s[:3], s[3:7], s[7:11], s[11:])) if sep else s
    return cns(n14[:-1] + str((int(n14[-1]) + 1) % 10), sep)


def pt_nif(n8: str) -> str:
    chk = 11 - sum(int(c) * (9 - i) for i, c in enumerate(n8)) % 11
    return n8 + str(0 if chk >= 10 else chk)


def luhn(partial: str) -> str:
    digits = _digits(partial)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        x = int(ch)
        if i % 2 == 0:
            x = x * 2 - 9 if x > 4 else x * 2
        total += x
    return partial + str((10 - total % 10) % 10)


def iban(cc: str, bban: str, group: bool = True) -> str:
    raw = bban.replace(" ", "")
    num = "".join(str(int(c, 36)) for c in raw + cc + "00")
    s = f"{cc}{98 - int(num) % 97:02d}{raw}"
    return " ".join(s[i : i + 4] for i in range(0, len(s), 4)) if group else s


# ------------------------------------------------------------------------------------------ English
EN = [
    "hey can u fix the formatting of this, its for the school trip form: Child: [[P|Maisie Thornbury]], emergency contact mum [[T|07700 914 382]]",
    "Hi Claude - I keep getting locked out. Account email is [[E|d.okafor1989@outlook.com]] and the last login was from [[IP|86.142.77.19]] which wasn't me!!",
    "Dear [[P|Priyanka]],\n\nThanks for the quick turnaround on the slides. Could you send the final deck by Thursday?\n\nBest,\n[[P|Tom]]",
    "Can you rewrite this more politely? 'Hi [[P|Gareth]], the invoice is 3 weeks late, pay it or I escalate. Cheers, [[P|Rhona]]'",
    "tenant application -- name: [[P|Marcus J. Ellery]] / dob [[D|11/02/1991]] / current address [[A|4417 Brookfield Ave, Apt 2C, Columbus, OH 43214]] / cell [[T|(614) 555-0143]]",
    "My husband's passport ([[PP|548821930]]) expires next month, how early can we renew it before our trip to Lisbon?",
    "I was born on the [[D|third of May 1987]] so how many days old am I today?",
    "pls check if my SSN [[S|412-67-9083]] is formatted right on this W-4, the form keeps rejecting it",
    "Ticket #88213: customer [[P|Abigail Ronson]] reports double charge on card ending in 4471, full number she gave us is [[C|{luhn('4716 2290 5518 447')}]]. Please refund one.",
    "Wire instructions from my landlord - is this a UK IBAN? [[IB|{iban('GB', 'BARC 2047 1783 5529 06')}]]",
    "Clinical note: 67yo M, MRN [[MR|00731942]], presented w/ chest pain, hx of T2DM. Summarize for handover.",
    "Could you draft a short cover letter? I'm [[P|Oluwaseun Adebayo]], [[E|seun.adebayo@gmail.com]], [[T|+44 7911 123456]], applying for the junior analyst role.",
    "Our router logs show repeated SSH attempts from [[IP|185.220.101.47]] against my home server. Should I block the whole /24?",
    "Driver's lic. no. [[DL|F255-9214-8833]] - the DMV website says it's invalid, does the format look right for Florida?",
    "my number is [[T|312.555.0168]] text me when the package arrives, it's a gift for my sister",
    "NHS number [[H|{nhs('485777345')}]] - I need to tell the GP surgery I moved, what's the form called?",
    "Please translate to Spanish: 'My name is [[P|Hannah Whitcombe]] and I am allergic to penicillin.'",
    "National Insurance no. [[ID|PW 48 21 93 B]] hmm actually it's [[ID|JG 10 37 59 A]], which one goes on the P46?",
    "Fill in the blanks for my visa form: surname [[P|Kowalczyk]], date of birth [[D|14 Feb 1979]], passport no. [[PP|EK7719302]]",
    "Write a thank-you note to my neighbour [[P|Doreen Pruitt]] who fed the cats while I was away",
    "Kind regards,\n[[P|Fiona McAllister]]\nSenior Paralegal\n[[T|+353 87 629 4410]]\n\n^ can you make my signature look more professional",
    "patient [[P|Luis Ortega]], DOB [[D|1962-08-30]], chart # [[MR|MRN-4480217]]: please convert his meds list to a table",
    "I moved! new address is [[A|27 Rosebery Crescent, Edinburgh EH12 5JZ]] - help me write a change-of-address email to my bank",
    "can you tell if this card number is real or a scam: [[C|{luhn('5412 7534 1290 887')}]] (found in my son's room??)",
    "Resume - [[P|Delphine Arceneaux]] | [[E|delphine.arceneaux@protonmail.com]] | [[T|504-822-7316]] | New Orleans, LA. Make the summary section punchier.",
    "My daughter was born [[D|June 9th, 2015]] - is she old enough for the summer camp that starts at age 10?",
    "Hiya [[P|Bex]]! can you check my grammar before I send this lol",
    "Reply to this for me: 'Hello, this is [[P|Sandeep Rao]] from 4B, my parking spot was taken again.'",
    "the vpn gives me [[IP|2a02:c7f:5e3a:8100:d91c:ab4e:1f0:7c22]] as my public address, is that ipv6 leaking my location?",
    "Please summarise: 'Mr [[P|Aldous Fairweather]], born [[D|2 September 1948]], resident at [[A|9 Millbrook Lane, Taunton TA1 4QR]], NHS no. [[H|{nhs('401023213')}]]'",
    "ugh the bank wants my routing + acct... my IBAN is [[IB|{iban('DE', '1001 1001 2622 9471 58')}]] is that enough for a SEPA transfer from the US?",
    "Hey [[P|Marguerite]],\nsorry for the late reply! Yes Saturday works.\nxx [[P|Jo]]",
    "Emergency contact form: [[P|Kwame Mensah]] (brother), [[T|+233 24 412 7790]], lives at [[A|88 Oakwood Drive, Leeds LS8 2JJ]]",
    "My passport number is [[PP|C7T4H19LZ]] (German passport) - can I use it for the ESTA application?",
    "Write a reminder to my patient [[P|Ilse Brandt]] about her appointment on Tuesday, her phone is [[T|0161 496 0732]]",
    "Reset my password please. username jdoe, real name [[P|Jeremiah Doakes]], email [[E|jeremiah.doakes@icloud.com]]",
    "hey its [[P|Tamsin]] from the book club, whats a good wine for a curry night?",
    "Medical record number [[MR|A-7731-0426]] — the lab results came back, can you explain what high ferritin means?",
    "Applicant: [[P|Nguyen Thi Lan]]\nSSN: [[S|529-48-1193]]\nEmployer: Sunrise Bakery\nPlease check the form for missing fields.",
    "Can you tell me how to dispute a charge? Card [[C|{luhn('3759 146201 7720')}]] got billed $430 by a merchant I never used.",
    "Cheers,\n[[P|Rob]]\n\n(that's how I sign my emails, is 'Cheers' too informal for a recruiter?)",
    "I'm filling out a rental form, my CA driver license is [[DL|B4419287]] - do they need the expiry date too?",
    "Dear Sir or Madam, I, [[P|Eleanor Vance-Whitby]], of [[A|15 Kingsway Court, Hove BN3 2WQ]], write to complain about the noise from the pub.",
    "call me back at [[T|+1 (917) 555-0132]] after 6, it's about my mother's prescription",
    "born on [[D|the twenty-first of October, 1990]], what does my birth chart say? lol",
    "Format this contact for my phone: [[P|Benedikt Strauss]], [[T|+49 151 23456789]], [[E|b.strauss@web.de]]",
    "Our intern [[P|Chloe Ashworth]] lost her laptop; her login came from [[IP|81.174.155.22]] at 2am. Is that her home ISP?",
    "I need a letter to HMRC. NINO [[ID|AB 12 34 56 D]], name [[P|Rupert Haslam]], address [[A|3 Ferndale Road, Bristol BS6 6UF]]",
    "Is it safe to email my health card? My Ontario health number is [[H|4532-281-947]]",
    "Hello [[P|Ms. Yamamoto]], your appointment is confirmed. - can you make this sound warmer?",
    "my sister [[P|Kerry-Ann Boateng]] needs a reference letter for her nursing job, she worked with me for 3 years",
    "Here's my info for the insurance claim: [[P|Declan Furlong]], policy 77-2210, DOB [[D|Jan 3 1984]], phone [[T|(503) 218-4471]]",
    "I think my identity got stolen, someone used my passport number [[PP|A09913382]] to open an account. What do I do first?",
    "Thanks so much!! Warmly, [[P|Anjali]]",
    "Pasted from the discharge summary: Pt: [[P|Horace Whitfield]] | Hospital No: [[MR|RX4429871]] | Admitted 14/07 | please simplify for the family",
    "can you help me write to my old landlord at [[A|1120 W Belmont Ave, Chicago, IL 60657]] to get my deposit back",
    "send the refund to [[IB|{iban('IE', 'BOFI 9000 1743 2865 19')}]], account holder [[P|Siobhan Keane]]",
    "my son's date of birth is [[D|07.05.2012]] and the school form wants MM/DD/YYYY, how do I write it?",
    "Best wishes,\n[[P|Imogen Latimer]]\n[[E|imogen@latimerdesign.co.uk]]\n---\nDoes this email footer need a phone number too?",
    "driving licence number [[DL|MORGA753116SM9IJ]] — the car hire desk says UK licences need a check code, how do I get one?",
    "Pls proofread: 'Hi [[P|Darnell]], great meeting you at the conference. Let's catch up next week! - [[P|Yusuf]]'",
    "What is this? 'Your SSN [[S|078-05-1120]] has been suspended' - I got a call saying this is my number",
]
EN_BENIGN = [
    "~What did Marie Curie win her second Nobel Prize for?",
    "~Is Python 3.12.4 compatible with numpy 1.26.0 or do I need 2.0?",
    "~Find me the book with ISBN 978-0-14-143951-8, I think it's Pride and Prejudice",
    "~In the docs they use john.smith@example.com as the sample login, can I change it?",
    "~Is the movie '555' from 1988 any good? my dad keeps mentioning it",
    "~Einstein was born on 14 March 1879 in Ulm - what was his family like?",
    "~Dear all, the meeting is moved to Friday. Regards, the organising committee -- is this too curt?",
    "~How do I configure my router to use 192.168.1.1 as the gateway?",
    "~What's the difference between IPv4 127.0.0.1 and ::1?",
    "~Our release 10.4.2.1 broke the installer, how do I roll back with apt?",
    "~Why does Newton's second law use F = ma and not F = mv?",
    "~Hi there, can you explain photosynthesis like I'm five?",
    "~Thanks in advance! Best regards",
    "~The Treaty of Versailles was signed on 28 June 1919; what were its main terms?",
    "~Order #4471 2290 5518 arrived broken, how do I write a complaint to the shop?",
    "~How many digits does a UK NHS number have, and how is the check digit computed?",
    "~In 'Pulp Fiction' what's the phone number on the card? I remember 555 something",
    "~Explain Ada Lovelace's notes on the Analytical Engine",
    "~Who was Queen Victoria's first prime minister?",
    "~Is Ubuntu 22.04.3 LTS still supported?",
    "~What's the meaning of the Fibonacci sequence 1 1 2 3 5 8 13 21 34 55 89?",
    "~Set the Kubernetes API server to listen on port 6443 and version v1.29.2",
    "~Write a poem that begins 'Dear Autumn,' and ends with 'Yours, the Sea'",
    "~Martin Luther King Jr. delivered 'I Have a Dream' on 28 August 1963 - summarise it",
    "~How do passport numbers work in the US? How many characters do they have?",
    "~Is the ISBN 0-306-40615-2 valid? how is the check digit computed",
    "~Can you explain what a driver's license class C allows in California?",
    "~Which street is 10 Downing Street on and who lives there?",
    "~Convert 1987-05-03 to day of week",
    "~The conference runs from 3 May 1987 to 5 May 1987 in this old newsletter, what conference might it be?",
    "~Gauss's birthday was 30 April 1777 - how old was he when he proved the fundamental theorem of algebra?",
    "~Compare Samsung Galaxy S23 and iPhone 15 Pro cameras",
    "~Test data: use 4111 1111 1111 1111 for Visa in the sandbox, right?",
    "~What's the format of a Spanish DNI number? Is the letter a checksum?",
    "~Cheers mate, that fixed it!",
    "~Hello! What's a good name for a golden retriever?",
    "~How far is 221B Baker Street from King's Cross station?",
    "~What are the main ideas of Adam Smith's Wealth of Nations?",
    "~My build fails with gcc 13.2.0 but works with 12.3.1 - any idea?",
    "How do I make sourdough starter from scratch?",
    "What are the symptoms of iron deficiency anaemia?",
    "Give me a 3-day itinerary for Lisbon on a budget",
    "Explain the difference between a Roth IRA and a traditional IRA",
    "Why is the sky blue?",
    "write a haiku about rain on a tin roof",
    "how do I stop my cat scratching the sofa",
    "What's the best way to learn Spanish verb conjugations?",
    "Summarize the plot of Hamlet in 5 sentences",
    "Can you recommend some exercises for lower back pain?",
    "what's a good vegetarian lasagne recipe for 8 people",
    "Help me plan a surprise birthday party for my coworker, budget $200",
    "Explain how a mortgage amortization schedule works",
    "Is it safe to take ibuprofen with coffee?",
    "Translate 'where is the train station' into German",
    "Write a SQL query to find duplicate emails in a users table",
    "What should I pack for a week of hiking in Scotland in October?",
    "How do I negotiate a higher salary after a job offer?",
    "what is the capital of Australia",
    "Draft a polite out-of-office message for the holidays",
    "How do vaccines train the immune system?",
    "List 10 icebreaker questions for a team meeting",
    "explain recursion with an example in javascript",
]
# ------------------------------------------------------------------------------------------ Spanish
ES = [
    "Hola [[P|María]]:\n\nTe paso el informe corregido. Avísame si falta algo.\n\nUn abrazo,\n[[P|Javier]]",
    "me llamo [[P|Lucía Fernández Ortega]] y quiero darme de baja del gimnasio, me ayudas a redactar el correo?",
    "Mi DNI es [[ID|{dni('48291037')}]], ¿lo tengo que poner con guion en el formulario de Hacienda?",
    "nací el [[D|3 de mayo de 1987]], cuántos años tengo en días??",
    "Buenas, mi móvil es el [[T|612 48 93 07]] y no me llegan los SMS del banco, qué hago",
    "Estimado Sr. [[P|Gutiérrez]]: le escribo para reclamar la fianza del piso de [[A|Calle de Toledo 84, 3º izq., 28005 Madrid]]",
    "Paciente: [[P|Rosario Jiménez Vidal]]. Nº historia clínica: [[MR|HC-2093381]]. Resume el informe de alta para la familia por favor",
    "Para el seguro: número de la Seguridad Social [[H|{nuss('2812345678')}]], ¿es lo mismo que el NUSS?",
    "Le paso mi IBAN para la devolución: [[IB|{iban('ES', '2100 3817 6102 0038 4415')}]]. Titular: [[P|Andrés Molina]]",
    "Saludos,\n[[P|Lucía]]\n\n¿queda bien así la firma o pongo 'Atentamente'?",
    "mi NIE es [[ID|{nie('X', '2482300')}]] y el de mi mujer [[ID|{nie('Y', '0873164')}]], nos piden los dos en la gestoría",
    "Tarjeta sanitaria: [[H|BBBB 7391 8420 63]] — me la han robado, cómo pido un duplicado en Andalucía?",
    "Tengo que renovar el pasaporte nº [[PP|PAB712903]] antes del viaje a México, cuánto tarda?",
    "¿Mi carnet de conducir [[DL|{dni('52871904')}]] sirve para alquilar coche en Estados Unidos?",
    "Envíame la factura a [[E|pablo.r.castillo@gmail.com]] y al fijo [[T|91 734 28 56]] si hay dudas",
    "Hola [[P|Carmen]], ¿puedes revisar el contrato antes del lunes? Gracias!",
    "Dirección de envío: [[A|Avda. de la Constitución 27, 2ºB, 41001 Sevilla]]. ¿Cuánto tarda un paquete desde Alemania?",
    "Queridos [[P|Pepe]] y [[P|Maite]]: ¡qué alegría la boda! escríbeme algo bonito para la tarjeta",
    "ayuda!! alguien entró en mi cuenta desde la IP [[IP|88.27.141.203]], yo vivo en Valencia y esa ip es de Madrid?",
    "Fecha de nacimiento: [[D|12/03/1985]]. Lugar: Zaragoza. ¿Cómo se pone esto en un CV europeo?",
    "Soy [[P|Diego Armando Reyes]], mi celular es [[T|+52 55 4187 2290]] y vivo en [[A|Av. Insurgentes Sur 1602, Col. Crédito Constructor, 03940 CDMX]]",
    "Atentamente,\n[[P|Fernando Salcedo Ruiz]]\nDirector Comercial\n[[T|+34 659 21 08 47]]",
    "Cargo no reconocido en mi tarjeta [[C|{luhn('4940 1928 7734 520')}]], escribe una reclamación al banco",
    "mi hijo nació el [[D|veintiuno de octubre de 2016]], a qué edad le toca la vacuna del sarampión?",
    "Escribe un mensaje para mi vecina [[P|Encarnación Pardo]], que me cuidó las plantas en agosto",
    "Mi CURP es [[ID|GORL850312HDFNMS08]], ¿para qué trámite lo necesito en el IMSS?",
    "El médico puso: paciente [[P|Tomás Herrera]], NHC [[MR|00483177]], alergia a AINEs. ¿Qué son los AINEs?",
    "Mi correo de la uni es [[E|alba.quesada@estudiante.uam.es]] pero no me llegan los avisos del campus virtual",
    "Buenos días, [[P|Sra. Domínguez]]: le confirmo la cita del jueves a las 10h. (¿está bien el tono?)",
    "Un saludo,\n[[P|Nerea]]",
    "Vivo en [[A|C/ Mayor 14, 1º, 31001 Pamplona]] y quiero empadronarme, qué papeles necesito?",
    "se me olvidó el pin de la tarjeta [[C|{luhn('5489 0132 7765 401')}]] del Santander, cómo lo recupero",
    "Nombre: [[P|Ximena Castro Peña]]\nFecha de nac.: [[D|02-11-1993]]\nTel: [[T|(33) 3614 2281]]\nGuadalajara, Jal.",
    "Por favor, redacta un correo a [[P|Álvaro Benítez]] para aplazar la reunión del martes",
    "Mi número de afiliación a la Seguridad Social es [[H|{nuss('0812098765', '{} {} {}')}]], ¿me sirve para la baja?",
    "Te mando los datos para la transferencia: [[IB|{iban('ES', '0049 6724 1827 1603 9945')}]] (Banco Santander)",
    "pasaporte mexicano nº [[PP|G39471820]], ¿necesito visa para ir a Canadá?",
    "llámame al [[T|+34 699 412 387]] cuando llegues a la estación, estoy con el coche",
    "Cordialmente,\n[[P|Gabriela Montes]]\n[[E|gmontes@estudiolegalmontes.com.ar]]",
    "Me llamo [[P|Iker Etxeberria]] y necesito un modelo de carta para pedir el certificado de empadronamiento",
    "Hola [[P|Santi]]! nos vemos el finde?? jaja",
    "ayúdame a entender esta analítica, hospital nº [[MR|H-58221946]], paciente [[P|Manuela Soto]]",
    "Ficha del alumno: [[P|Hugo Navarro Gil]], nacido el [[D|14 de febrero de 2011]], domicilio [[A|Calle Alfonso I 9, 50003 Zaragoza]]",
    "Estimada [[P|Dra. Vázquez]]:\nLe adjunto los resultados. Un cordial saludo, [[P|Ramón Ibarra]]",
    "El servidor de mi casa tiene la IP pública [[IP|2a0c:5a80:3f01:9c00:11a2:8bff:fe3e:2d41]], cómo la escondo?",
    "Mi CPF es... no espera, soy español: DNI [[ID|{dni('71204583')}]]. ¿Lo necesito para abrir cuenta en Portugal?",
    "firmado: [[P|Esperanza Rubio]], con domicilio en [[A|Plaza de España 3, 4ºA, 33007 Oviedo]]",
    "Mi teléfono fijo es el [[T|93 218 44 07]] y el móvil [[T|655 903 128]]; actualiza mi ficha de cliente",
    "Número de permiso de conducir: [[DL|{dni('30918274')}]] — caduca en 2027, ¿cuándo lo renuevo?",
    "Le escribe [[P|Rodrigo Sáenz]] desde Bogotá, mi WhatsApp es [[T|+57 310 482 7719]]",
    "tarjeta sanitaria individual [[H|MRSL 5801 2214 04]] de Madrid, me cambio a Castilla-La Mancha",
    "Besos,\n[[P|Abuela Pilar]]\n\n(quiero que me ayudes a escribirle a mi nieto por su cumple)",
    "Me robaron la cartera con el DNI [[ID|{dni('09182734')}]] y la tarjeta [[C|{luhn('4548 8122 0937 115')}]], qué hago primero?",
    "cambia el formato de esta fecha de nacimiento: [[D|5 de enero de 1979]] al formato ISO",
    "La IP desde la que se hizo el pedido fraudulento fue [[IP|95.63.218.44]], ¿puedo denunciarlo?",
    "Hola, soy [[P|Valentina Ríos]], escríbeme a [[E|vale.rios.92@hotmail.es]] con el presupuesto",
    "Pasaporte: [[PP|XDC283741]] / Nacionalidad: española / Nombre: [[P|Marina Lozano Prieto]]",
    "Recuerdos a todos,\n[[P|Paco]]",
    "mi domicilio fiscal es [[A|Rambla de Catalunya 112, 08008 Barcelona]], pero vivo en Girona. ¿Cuál pongo en la renta?",
    "Por favor redacta una carta de recomendación para mi alumna [[P|Inés Carrasco]]",
]
ES_BENIGN = [
    "~¿Qué descubrió Santiago Ramón y Cajal sobre las neuronas?",
    "~¿Cuál es la diferencia entre Python 3.11 y 3.12?",
    "~Busco el libro con ISBN 978-84-376-0494-7, ¿es Cien años de soledad?",
    "~En el tutorial usan usuario@example.com como correo de prueba, ¿tengo que cambiarlo?",
    "~Cervantes murió el 22 de abril de 1616; ¿por qué se celebra el Día del Libro el 23?",
    "~Hola a todos, ¿alguien sabe cómo se cocina una buena paella?",
    "~Saludos cordiales y gracias por adelantado",
    "~¿Cómo cambio la IP de mi router a 192.168.0.1?",
    "~La Constitución española se aprobó el 6 de diciembre de 1978, ¿qué dice el artículo 14?",
    "~¿Cómo se calcula la letra del DNI? ¿Es un módulo 23?",
    "~Frida Kahlo nació el 6 de julio de 1907, ¿dónde está su casa museo?",
    "~Mi pedido nº 4940 1928 7734 no ha llegado, cómo reclamo a la tienda",
    "~Actualicé a Android 14.0.2 y la batería dura menos, ¿es normal?",
    "~¿Quién fue Simón Bolívar y por qué es importante?",
    "~¿Está bien la película 'Llamada 555'?",
    "~Explícame la teoría de la relatividad de Einstein con ejemplos sencillos",
    "~¿Qué pasó el 23 de febrero de 1981 en el Congreso?",
    "~¿Cuántos dígitos tiene un IBAN español?",
    "~Estimados señores: les escribo para solicitar información sobre los cursos. ¿Está bien este inicio?",
    "~La calle Gran Vía de Madrid, ¿cuándo se construyó?",
    "~¿Qué tiene de especial el Real Madrid en la Champions?",
    "~Versión 2.4.1 del firmware: ¿cómo la instalo en la impresora?",
    "~¿Qué es un NIE y quién lo necesita?",
    "~Gabriel García Márquez ganó el Nobel en 1982, ¿por qué obra?",
    "~Un abrazo fuerte a todos los que leéis el blog! -- ¿cómo termino esta entrada?",
    "~¿Para qué sirve el puerto 8080 en un servidor web?",
    "~¿Qué significa el número 42 en la Guía del autoestopista galáctico?",
    "~Ponme un ejemplo de tarjeta de prueba de Stripe, tipo 4242 4242 4242 4242",
    "~¿La reunión del 3 de mayo de 2025 fue aplazada? no encuentro el acta",
    "~¿Cómo se formatea un número de teléfono español para E.164?",
    "~Isabel la Católica y Fernando de Aragón, ¿cuándo se casaron?",
    "~¿Dónde está la Plaza Mayor de Salamanca?",
    "~La Ley 39/2015 del procedimiento administrativo, ¿qué plazos fija?",
    "~Compara el iPhone 15 con el Xiaomi 14",
    "~¿Quién escribió 'Don Quijote de la Mancha'?",
    "¿Cómo hago una tortilla de patatas jugosa?",
    "¿Qué ropa llevo para el Camino de Santiago en abril?",
    "Explícame qué es la inflación de forma sencilla",
    "Dame ideas para un cumpleaños infantil en casa",
    "¿Cuál es la mejor forma de aprender inglés rápido?",
    "Escribe un poema sobre el mar en otoño",
    "¿Cuánto tiempo hay que cocer un huevo duro?",
    "¿Qué síntomas tiene la gripe y cuándo ir al médico?",
    "traduce 'good morning, how are you' al español",
    "¿Qué es mejor, alquilar o comprar piso en 2024?",
    "Resume la historia de la Guerra Civil española en un párrafo",
    "¿Cómo quito una mancha de vino tinto del sofá?",
    "Necesito una rutina de ejercicios para hacer en casa sin material",
    "Explica qué es una función recursiva en Python",
    "¿Cuál es la capital de Uruguay?",
    "Dame una lista de libros de ciencia ficción para adolescentes",
    "¿Cómo funcionan las placas solares?",
    "¿Qué significa 'procrastinar'?",
    "Escribe un correo para pedir vacaciones a mi jefe, tono formal",
    "¿Cuántas calorías tiene un plátano?",
    "¿Qué diferencias hay entre el español de España y el de México?",
    "recomiéndame series españolas en Netflix",
    "¿Cómo se planta un aguacate desde la semilla?",
    "¿Qué es el efecto invernadero?",
    "Hazme un plan de estudio para oposiciones de 6 meses",
    "¿Por qué el cielo es azul?",
    "¿Cómo se calcula el IVA de una factura?",
]
# ------------------------------------------------------------------------------------------ Portuguese
PT = [
    "Olá [[P|João]],\n\nsegue em anexo a proposta revista. Qualquer dúvida diz.\n\nAbraço,\n[[P|Rui]]",
    "meu nome é [[P|Ana Beatriz Nogueira]] e preciso cancelar minha assinatura, me ajuda a escrever o email?",
    "Meu CPF é [[ID|{cpf('529982247')}]], ta certo esse formato pra nota fiscal?",
    "nasci em [[D|3 de maio de 1987]], quantos anos eu tenho?",
    "Oi, meu celular é [[T|(11) 98765-4321]] mas o banco não manda o código por sms",
    "Prezado Sr. [[P|Albuquerque]], escrevo sobre o apartamento da [[A|Rua Augusta, 1508, apto 72, São Paulo - SP, 01304-001]]",
    "Paciente [[P|Maria das Graças Souza]], prontuário nº [[MR|0048213-7]], alta amanhã. Resume o relatório pra família",
    "Cartão SUS: [[H|{cns('70000287331900')}]] — como atualizo meu endereço no cadastro?",
    "Dados pro reembolso: [[IB|{iban('PT', '0033 0000 4531 8826 7190 5')}]], titular [[P|Sofia Marques]]",
    "Beijos,\n[[P|Mariana]]\n\nisso é informal demais pra mandar pra minha orientadora?",
    "O meu NIF é [[ID|{pt_nif('23641578')}]], preciso dele para o contrato de arrendamento?",
    "Número de utente do SNS: [[H|381 204 667]] — mudei de centro de saúde, o que faço?",
    "Vou renovar o passaporte nº [[PP|FT482913]] antes da viagem a Paris, quanto tempo demora na Polícia Federal?",
    "Minha CNH é [[DL|04917362810]], posso dirigir em Portugal com ela?",
    "Manda a fatura pro [[E|lucas.ferreira.86@gmail.com]] e se precisar liga no fixo [[T|(21) 2547-8830]]",
    "Olá [[P|Inês]], podes rever o relatório antes de segunda? Obrigada!",
    "Endereço de entrega: [[A|Rua de Santa Catarina 312, 4000-447 Porto]]. Quanto custa o envio da Alemanha?",
    "Queridos [[P|Tio Zé]] e [[P|Tia Fátima]], obrigado pelo presente! — me ajuda a caprichar na mensagem",
    "socorro alguém acessou minha conta do IP [[IP|177.92.41.18]], eu moro em Recife e isso é de SP?",
    "Data de nascimento: [[D|12/03/1985]]. Naturalidade: Coimbra. Como ponho isto num CV europass?",
    "Sou [[P|Thiago Nascimento]], meu zap é [[T|+55 31 99214-7730]] e moro na [[A|Av. Afonso Pena, 1212, Belo Horizonte - MG, 30130-003]]",
    "Atenciosamente,\n[[P|Fernanda Lacerda]]\nGerente de Projetos\n[[T|+55 11 3045-9921]]",
    "Não reconheço essa compra no meu cartão [[C|{luhn('5162 9204 8813 770')}]], escreve uma contestação pro banco",
    "minha filha nasceu em [[D|vinte e um de outubro de 2016]], com que idade toma a vacina da febre amarela?",
    "Escreve uma mensagem pra minha vizinha [[P|Dona Cida]] que cuidou do meu cachorro",
    "Meu RG é [[ID|32.418.775-9]], perdi a carteira, como faço o BO?",
    "O médico escreveu: doente [[P|Joaquim Pereira]], processo clínico [[MR|PC-2201947]], alergia a penicilina.",
    "Meu email da faculdade é [[E|gabriela.moura@usp.br]] e não recebo as notas",
    "Bom dia, [[P|Sra. Carvalho]]: confirmo a consulta de quinta às 10h. (o tom está ok?)",
    "Um abraço,\n[[P|Duarte]]",
    "Moro na [[A|Rua Garrett 19, 2º Esq., 1200-203 Lisboa]] e quero pedir o atestado de residência na junta",
    "esqueci a senha do cartão [[C|{luhn('4984 1302 6618 532')}]] do Itaú, como recupero?",
    "Nome: [[P|Letícia Campos Rocha]]\nData nasc.: [[D|02-11-1993]]\nTel: [[T|(41) 99873-1204]]\nCuritiba/PR",
    "Por favor escreve um email para o [[P|Gonçalo Teixeira]] a adiar a reunião de terça",
    "Meu número do cartão nacional de saúde é [[H|{cns('16024433581001', '')}]], serve para marcar exame?",
    "Segue o IBAN para a transferência: [[IB|{iban('PT', '0035 0217 0004 3958 1620 3')}]] (CGD)",
    "passaporte brasileiro nº [[PP|YB391827]], preciso de visto pro Canadá?",
    "liga-me para o [[T|912 345 678]] quando chegares à estação, estou de carro",
    "Cordialmente,\n[[P|Rafael Antunes]]\n[[E|rafael.antunes@antunesadvogados.com.br]]",
    "Me chamo [[P|Bruno Henrique Alves]] e preciso de um modelo de carta de demissão",
    "Oi [[P|Gabi]]! bora no cinema sábado?",
    "me ajuda a entender esse exame, hospital nº [[MR|HSJ-7731204]], paciente [[P|Luzia Fonseca]]",
    "Ficha de inscrição: [[P|Miguel Santos Pinto]], nascido em [[D|14 de fevereiro de 2011]], morada [[A|Avenida da Boavista 1401, 4100-130 Porto]]",
    "Cara [[P|Dra. Tavares]],\nEnvio os resultados em anexo. Com os melhores cumprimentos, [[P|Nuno Barros]]",
    "O meu servidor em casa tem o IPv6 [[IP|2001:818:e34a:ad00:5d2f:17ff:fe9b:c310]], como escondo?",
    "CPF [[ID|{cpf('111444777')}]] e RG [[ID|MG-14.382.991]], são esses os documentos pro contrato?",
    "assinado: [[P|Conceição Ribeiro]], residente na [[A|Rua do Comércio 48, 3º, 1100-150 Lisboa]]",
    "Meu fixo é [[T|(85) 3261-4478]] e o celular [[T|(85) 98812-0093]]; atualiza meu cadastro",
    "Carta de condução nº [[DL|L-1827364 5]] — caduca em 2026, quando renovo?",
    "Quem escreve é o [[P|Vinícius Prado]], de Porto Alegre, meu whatsapp [[T|+55 51 98144-3307]]",
    "Número de beneficiário da Segurança Social [[ID|11938472615]], preciso para o subsídio",
    "Saudades,\n[[P|Vovó Lurdes]]\n\n(quero escrever pro meu neto no aniversário dele)",
    "Roubaram minha carteira com o CPF [[ID|{cpf('390533447')}]] e o cartão [[C|{luhn('4011 7884 3321 906')}]], o que faço primeiro?",
    "muda o formato desta data de nascimento: [[D|5 de janeiro de 1979]] para ISO",
    "O IP de onde fizeram a compra fraudulenta foi [[IP|189.45.210.77]], posso denunciar?",
    "Olá, sou a [[P|Beatriz Lopes]], manda o orçamento para [[E|bia.lopes92@sapo.pt]]",
    "Passaporte: [[PP|CB127834]] / Nacionalidade: portuguesa / Nome: [[P|Carolina Vieira Gomes]]",
    "Abraços a todos,\n[[P|Zeca]]",
    "minha morada fiscal é [[A|Rua da Sofia 95, 3000-389 Coimbra]] mas vivo em Aveiro, qual ponho no IRS?",
    "Escreve uma carta de recomendação para o meu aluno [[P|Tiago Monteiro Reis]]",
]
PT_BENIGN = [
    "~O que Santos Dumont inventou de verdade?",
    "~Qual a diferença entre o Python 3.11 e o 3.12?",
    "~Procuro o livro ISBN 978-85-359-0277-8, é Dom Casmurro?",
    "~No tutorial eles usam fulano@example.com como email de teste, posso trocar?",
    "~Machado de Assis nasceu em 21 de junho de 1839, quais os livros mais famosos dele?",
    "~Olá a todos, alguém sabe fazer um bom pão de queijo?",
    "~Atenciosamente e obrigado desde já",
    "~Como mudo o IP do meu roteador para 192.168.0.1?",
    "~A Revolução dos Cravos foi em 25 de abril de 1974, o que aconteceu?",
    "~Como se calcula o dígito verificador do CPF?",
    "~Fernando Pessoa nasceu a 13 de junho de 1888 em Lisboa, quem eram os heterónimos dele?",
    "~Meu pedido nº 5162 9204 8813 não chegou, como reclamo com a loja?",
    "~Atualizei para o iOS 17.4.1 e a bateria piorou, é normal?",
    "~Quem foi Tiradentes e por que ele é feriado?",
    "~O filme 'Ligação 555' vale a pena?",
    "~Explica a teoria da evolução de Darwin de forma simples",
    "~O que aconteceu em 7 de setembro de 1822?",
    "~Quantos dígitos tem um IBAN português?",
    "~Prezados senhores, venho por meio desta solicitar informações. Está bom esse começo?",
    "~A Avenida Paulista foi inaugurada em que ano?",
    "~Quantas Copas do Mundo o Brasil ganhou?",
    "~Versão 5.2.0 do app do banco está travando, como volto para a anterior?",
    "~O que é o NIF e quem precisa de um em Portugal?",
    "~José Saramago ganhou o Nobel em 1998 com que livro?",
    "~Um abraço a todos os leitores! -- como fecho este post?",
    "~Para que serve a porta 443?",
    "~Me dá um exemplo de cartão de teste do PagSeguro tipo 4111 1111 1111 1111",
    "~A reunião de 3 de maio de 2025 foi adiada? não acho a ata",
    "~Como formatar número de telefone brasileiro no padrão E.164?",
    "~Dom Pedro II governou o Brasil de que ano a que ano?",
    "~Onde fica a Praça do Comércio em Lisboa?",
    "~A Lei 13.709/2018 (LGPD) fala o quê sobre dados sensíveis?",
    "~Compara o Galaxy S24 com o iPhone 15",
    "~Quem escreveu 'Os Lusíadas'?",
    "~Olá! Que nome dou ao meu gato laranja?",
    "Como faço um brigadeiro de panela?",
    "O que levo na mala para uma semana em Fortaleza?",
    "Explica o que é a taxa Selic de forma simples",
    "Ideias para festa de aniversário infantil em casa",
    "Qual a melhor forma de aprender inglês sozinho?",
    "Escreve um poema sobre saudade",
    "Quanto tempo se coze um ovo?",
    "Quais os sintomas da dengue e quando ir ao médico?",
    "traduz 'see you tomorrow' para português",
    "É melhor alugar ou comprar casa em Lisboa agora?",
    "Resume a história do Brasil colônia num parágrafo",
    "Como tiro mancha de café da camisa branca?",
    "Me passa um treino de academia para iniciantes",
    "Explica o que é uma API REST",
    "Qual a capital do Canadá?",
    "Lista de livros de fantasia para adolescentes",
    "Como funcionam os painéis solares?",
    "O que significa 'saudade' em inglês?",
    "Escreve um email para pedir férias ao meu chefe, tom formal",
    "Quantas calorias tem uma banana?",
    "Quais as diferenças entre o português de Portugal e do Brasil?",
    "Recomenda séries brasileiras na Netflix",
    "Como plantar manjericão em vaso?",
    "O que é o efeito estufa?",
    "Faz um plano de estudos para o ENEM em 6 meses",
    "Por que o céu é azul?",
    "Como calcular juros compostos?",
]
# ------------------------------------------------------------------------------------------ French
FR = [
    "Bonjour [[P|Claire]],\n\nJe te renvoie le devis corrigé. Dis-moi si ça te va.\n\nCordialement,\n[[P|Marc]]",
    "je m'appelle [[P|Camille Lefèvre]] et je voudrais résilier mon abonnement, tu peux m'aider à écrire la lettre ?",
    "Mon numéro de sécu c'est [[ID|{nir('2 84 05 69 123 417')}]], je le mets où sur la déclaration ?",
    "je suis [[D|né le 3 mai 1987]], ça me fait quel âge en jours ?",
    "Salut, mon portable c'est le [[T|06 12 48 93 07]] mais je reçois pas les codes de la banque",
    "Monsieur [[P|Delacroix]], je vous écris au sujet du logement situé au [[A|14 rue des Lilas, 69003 Lyon]]",
    "Patiente : [[P|Josiane Mercier]], IPP [[MR|800431277]]. Résume le compte rendu d'hospitalisation pour la famille stp",
    "Carte Vitale n° [[H|{nir('1 79 12 75 115 208')}]] — je l'ai perdue, comment je la refais ?",
    "Voici mon RIB pour le remboursement : [[IB|{iban('FR', '1027 8060 4100 0204 8137 542')}]], titulaire [[P|Hélène Garnier]]",
    "Bises,\n[[P|Élodie]]\n\nc'est trop familier pour ma directrice de thèse ?",
    "mon passeport n° [[PP|18AV42719]] expire en mars, je peux quand même partir au Maroc ?",
    "Mon permis de conduire n° [[DL|130674200318]] a été suspendu, comment contester ?",
    "Envoie la facture à [[E|theo.rousseau44@orange.fr]] et appelle le fixe [[T|01 42 68 53 00]] si besoin",
    "Bonjour [[P|Mathilde]], tu peux relire le contrat avant lundi ? Merci !",
    "Adresse de livraison : [[A|27 avenue Jean Jaurès, 31000 Toulouse]]. Combien de temps depuis l'Allemagne ?",
    "Chers [[P|Robert]] et [[P|Lucette]], merci pour le cadeau ! aide-moi à faire un joli message",
    "au secours quelqu'un s'est connecté à mon compte depuis l'IP [[IP|90.112.47.201]], moi je suis à Nantes",
    "Date de naissance : [[D|12/03/1985]]. Lieu : Rennes. Comment je mets ça dans un CV europass ?",
    "Moi c'est [[P|Kévin Moreau]], mon 06 c'est le [[T|+33 6 71 24 98 30]] et j'habite [[A|8 bis rue Paradis, 13001 Marseille]]",
    "Bien cordialement,\n[[P|Isabelle Fontaine]]\nResponsable RH\n[[T|+33 1 53 40 77 12]]",
    "Je ne reconnais pas ce paiement sur ma carte [[C|{luhn('4974 0128 3366 215')}]], rédige une contestation pour la banque",
    "ma fille est née le [[D|vingt et un octobre 2016]], à quel âge elle a le vaccin ROR ?",
    "Écris un petit mot pour ma voisine [[P|Mme Bertrand]] qui a arrosé mes plantes",
    "Le médecin a noté : patient [[P|Gérard Lemoine]], n° de dossier [[MR|DOS-2019-44817]], allergie à l'aspirine.",
    "Mon mail de la fac c'est [[E|lea.barbier@etu.univ-paris1.fr]] et je reçois pas les notes",
    "Bonjour [[P|Madame Roux]], je vous confirme le rendez-vous de jeudi à 10h. (le ton est ok ?)",
    "À bientôt,\n[[P|Quentin]]",
    "J'habite au [[A|5 place Bellecour, 69002 Lyon]] et je veux une attestation de domicile",
    "j'ai oublié le code de ma carte [[C|{luhn('5131 2288 0149 662')}]] de la Société Générale, comment je fais ?",
    "Nom : [[P|Océane Perrin]]\nNée le : [[D|02/11/1993]]\nTél : [[T|07 81 22 64 19]]\nBordeaux",
    "Peux-tu écrire un mail à [[P|Antoine Girard]] pour décaler la réunion de mardi ?",
    "Mon NIR est [[ID|{nir('1 91 07 33 063 089')}]], c'est le même numéro que sur ma carte vitale ?",
    "Voici l'IBAN pour le virement : [[IB|{iban('FR', '3000 4008 2800 0107 3326 185')}]] (BNP)",
    "passeport belge n° [[PP|EH123456]], il me faut un visa pour le Canada ?",
    "appelle-moi au [[T|06 59 21 08 47]] quand t'arrives à la gare",
    "Salutations distinguées,\n[[P|Bernard Lacombe]]\n[[E|b.lacombe@cabinet-lacombe.fr]]",
    "Je m'appelle [[P|Yannick Le Goff]] et j'ai besoin d'un modèle de lettre de démission",
    "Coucou [[P|Juju]] ! ciné samedi ?",
    "aide-moi à comprendre cette prise de sang, n° patient [[MR|0044719823]], [[P|Simone Carré]]",
    "Fiche d'inscription : [[P|Lucas Martin-Dubois]], né le [[D|14 février 2011]], domicilié [[A|12 chemin des Vignes, 21000 Dijon]]",
    "Chère [[P|Docteure Morel]],\nJe vous envoie les résultats. Bien à vous, [[P|Pascal Vidal]]",
    "Mon serveur à la maison a l'IPv6 [[IP|2a01:e0a:2c4:9b10:6c1e:d3ff:fe22:81a0]], comment la cacher ?",
    "Mon numéro fiscal (SPI) est [[ID|30 23 217 600 053]], on me le demande pour la taxe foncière",
    "signé : [[P|Jacqueline Masson]], demeurant [[A|3 allée des Tilleuls, 44300 Nantes]]",
    "Mon fixe c'est le [[T|04 78 62 19 30]] et mon portable le [[T|06 44 90 31 28]], mets à jour ma fiche client",
    "Numéro de permis : [[DL|08AB32147]] — comment je le récupère après le retrait de points ?",
    "C'est [[P|Nabil Haddad]] de Montréal, mon cell c'est le [[T|+1 514 872 3390]]",
    "Je suis belge, mon numéro national est [[ID|85.07.30-033.28]], c'est confidentiel ?",
    "Gros bisous,\n[[P|Mamie Jeannette]]\n\n(je veux écrire à mon petit-fils pour son anniversaire)",
    "On m'a volé mon portefeuille avec ma carte vitale [[H|{nir('2 90 04 13 055 310')}]] et ma CB [[C|{luhn('4970 1044 8823 157')}]], je fais quoi en premier ?",
    "change le format de cette date de naissance : [[D|5 janvier 1979]] en ISO",
    "L'IP d'où la commande frauduleuse est partie : [[IP|82.64.155.19]], je peux porter plainte ?",
    "Bonjour, c'est [[P|Manon Lambert]], envoyez-moi le devis sur [[E|manon.lambert@free.fr]]",
    "Passeport : [[PP|21CF87342]] / Nationalité : française / Nom : [[P|Aurélie Fabre]]",
    "Amitiés,\n[[P|Jean-Luc]]",
    "mon adresse fiscale est [[A|47 boulevard Haussmann, 75009 Paris]] mais j'habite à Lille, laquelle je mets ?",
    "Rédige une lettre de recommandation pour mon stagiaire [[P|Hugo Lemaire]]",
    "Dossier médical n° [[MR|MED-5528194]] : expliquez-moi ce que veut dire 'hypokaliémie'",
    "Mon AVS suisse c'est le [[ID|756.3047.5009.62]], je dois le donner à mon employeur ?",
    "Je suis [[D|née le 30 avril 1972]] à Brest, je peux partir en retraite à quel âge ?",
]
FR_BENIGN = [
    "~Qu'a découvert Louis Pasteur sur la rage ?",
    "~Quelle est la différence entre Python 3.11 et 3.12 ?",
    "~Je cherche le livre ISBN 978-2-07-036822-8, c'est bien L'Étranger ?",
    "~Dans la doc ils utilisent jean.dupont@example.com comme adresse de test, je peux la changer ?",
    "~Victor Hugo est né le 26 février 1802 à Besançon, quelles sont ses œuvres majeures ?",
    "~Bonjour à tous, quelqu'un connaît une bonne recette de quiche ?",
    "~Cordialement et merci d'avance",
    "~Comment changer l'IP de ma box en 192.168.1.254 ?",
    "~La prise de la Bastille a eu lieu le 14 juillet 1789, pourquoi ?",
    "~Comment calcule-t-on la clé du numéro de sécurité sociale ?",
    "~Napoléon est né le 15 août 1769 à Ajaccio, raconte sa jeunesse",
    "~Ma commande n° 4974 0128 3366 n'est pas arrivée, comment réclamer ?",
    "~J'ai mis à jour vers Windows 11 23H2 (build 22631.3296), c'est normal que ça rame ?",
    "~Qui était Jeanne d'Arc ?",
    "~Le film 'Appel 555' est-il bien ?",
    "~Explique la théorie de la relativité d'Einstein simplement",
    "~Que s'est-il passé le 8 mai 1945 ?",
    "~Combien de caractères a un IBAN français ?",
    "~Madame, Monsieur, je me permets de vous écrire afin de... c'est bien comme début ?",
    "~La rue de Rivoli date de quand ?",
    "~Combien de Coupes du monde la France a-t-elle gagnées ?",
    "~Version 3.6.2 de l'appli qui plante, comment revenir à l'ancienne ?",
    "~À quoi sert le numéro fiscal en France ?",
    "~Albert Camus a reçu le Nobel en 1957, pour quelle œuvre ?",
    "~Bises à tous les lecteurs du blog ! -- comment je finis cet article ?",
    "~À quoi sert le port 22 ?",
    "~Donne-moi un exemple de carte de test Stripe, genre 4000 0566 5566 5556",
    "~La réunion du 3 mai 2025 a-t-elle été reportée ? je ne trouve pas le compte rendu",
    "~Comment écrire un numéro de téléphone français au format international ?",
    "~Louis XIV a régné de quelle année à quelle année ?",
    "~Où se trouve la place de la Concorde ?",
    "~La loi n° 78-17 du 6 janvier 1978, c'est la loi Informatique et Libertés ?",
    "~Compare le Pixel 8 et l'iPhone 15",
    "~Qui a écrit 'Les Misérables' ?",
    "~Salut ! Quel nom donner à mon chaton ?",
    "~Marie Curie et Pierre Curie ont-ils partagé le prix Nobel de 1903 ?",
    "Comment faire une pâte brisée maison ?",
    "Que mettre dans ma valise pour une semaine en Bretagne en octobre ?",
    "Explique l'inflation simplement",
    "Des idées pour un anniversaire d'enfant à la maison ?",
    "Quelle est la meilleure façon d'apprendre l'anglais ?",
    "Écris un poème sur la pluie",
    "Combien de temps faut-il cuire un œuf dur ?",
    "Quels sont les symptômes de la grippe ?",
    "traduis 'see you tomorrow' en français",
    "Vaut-il mieux louer ou acheter à Paris ?",
    "Résume la Révolution française en un paragraphe",
    "Comment enlever une tache de vin rouge ?",
    "Donne-moi un programme de musculation débutant",
    "Explique ce qu'est une API REST",
    "Quelle est la capitale du Canada ?",
    "Liste de romans de science-fiction pour ados",
    "Comment fonctionnent les panneaux solaires ?",
    "Que veut dire 'procrastiner' ?",
    "Écris un mail pour demander des congés à mon chef, ton formel",
    "Combien de calories dans une banane ?",
    "Quelles différences entre le français de France et du Québec ?",
    "Recommande-moi des séries françaises sur Netflix",
    "Comment planter du basilic en pot ?",
    "C'est quoi l'effet de serre ?",
    "Fais-moi un planning de révisions pour le bac",
    "Pourquoi le ciel est bleu ?",
]
# ------------------------------------------------------------------------------------------ German
DE = [
    "Hallo [[P|Jens]],\n\nanbei das überarbeitete Angebot. Sag Bescheid, ob es passt.\n\nViele Grüße,\n[[P|Sabine]]",
    "ich heiße [[P|Lena Hoffmann]] und möchte mein Fitnessstudio kündigen, hilfst du mir beim Schreiben?",
    "Meine Steuer-ID ist [[ID|{steuer('6592381047')}]], wo trage ich die in der Steuererklärung ein?",
    "ich bin [[D|am 3. Mai 1987 geboren]], wie viele Tage bin ich alt?",
    "Hi, meine Handynummer ist [[T|0151 23456789]], aber die SMS von der Bank kommen nicht an",
    "Sehr geehrter Herr [[P|Brandt]], ich schreibe Ihnen wegen der Wohnung in der [[A|Lindenstraße 14, 10969 Berlin]]",
    "Patientin: [[P|Ingrid Schäfer]], Fallnummer [[MR|20231184477]]. Fass den Entlassbrief für die Familie zusammen",
    "Krankenversichertennummer [[H|{kvnr('T', '49281734')}]] — wie ändere ich meine Adresse bei der TK?",
    "Hier meine Bankverbindung für die Rückerstattung: [[IB|{iban('DE', '2005 0550 1502 7733 14')}]], Kontoinhaberin [[P|Katrin Vogel]]",
    "LG,\n[[P|Anni]]\n\nist das zu locker für meine Doktormutter?",
    "Mein Reisepass Nr. [[PP|C4J7R2X19]] läuft im März ab, kann ich trotzdem in die Türkei?",
    "Meine Führerscheinnummer [[DL|B072RRE2I55]] — wie lange ist der alte graue Lappen noch gültig?",
    "Schick die Rechnung an [[E|tobias.krueger87@gmx.de]] und ruf bei Fragen im Büro an: [[T|030 2847 1930]]",
    "Hallo [[P|Miriam]], kannst du den Vertrag bis Montag gegenlesen? Danke!",
    "Lieferadresse: [[A|Goethestraße 27, 80336 München]]. Wie lange dauert ein Paket aus Spanien?",
    "Liebe [[P|Oma Gerda]], lieber [[P|Opa Heinz]], danke für das Geschenk! hilf mir, das schöner zu formulieren",
    "Hilfe, jemand hat sich von der IP [[IP|91.64.203.18]] in mein Konto eingeloggt, ich wohne aber in Köln",
    "Geburtsdatum: [[D|12.03.1985]]. Geburtsort: Leipzig. Wie schreibe ich das in einen englischen CV?",
    "Ich bin [[P|Dennis Wagner]], mein Handy [[T|+49 176 41829930]], Adresse [[A|Am Rosengarten 8, 45127 Essen]]",
    "Mit freundlichen Grüßen\n[[P|Dr. Ulrike Brenner]]\nPersonalabteilung\n[[T|+49 89 2180 4417]]",
    "Diese Abbuchung auf meiner Kreditkarte [[C|{luhn('4871 0499 2286 130')}]] kenne ich nicht, schreib eine Reklamation an die Bank",
    "meine Tochter ist [[D|am einundzwanzigsten Oktober 2016 geboren]], wann ist die Masernimpfung fällig?",
    "Schreib eine kleine Karte für meine Nachbarin [[P|Frau Kowalski]], die meine Katze gefüttert hat",
    "Der Arzt schrieb: Patient [[P|Klaus-Dieter Wendt]], Patienten-ID [[MR|PID-4471902]], ASS-Unverträglichkeit.",
    "Meine Uni-Mail ist [[E|j.schmidt@stud.uni-hamburg.de]], aber ich bekomme keine Noten",
    "Guten Tag [[P|Frau Albrecht]], hiermit bestätige ich den Termin am Donnerstag um 10 Uhr. (passt der Ton?)",
    "Bis bald,\n[[P|Felix]]",
    "Ich wohne in der [[A|Schillerstr. 5, 04109 Leipzig]] und brauche eine Meldebescheinigung",
    "PIN für meine Karte [[C|{luhn('5232 1109 7734 882')}]] von der Sparkasse vergessen, was tun?",
    "Name: [[P|Jana Lehmann]]\nGeb.: [[D|02.11.1993]]\nTel.: [[T|0176 81226419]]\nDresden",
    "Kannst du eine Mail an [[P|Stefan Becker]] schreiben und das Meeting am Dienstag verschieben?",
    "Meine Personalausweisnummer ist [[ID|LZ6311T47]], brauche ich die für die Kontoeröffnung?",
    "Hier die IBAN für die Überweisung: [[IB|{iban('DE', '4306 0967 1194 3827 00')}]] (DKB)",
    "österreichischer Reisepass Nr. [[PP|P4829174]], brauche ich ein Visum für Kanada?",
    "ruf mich an unter [[T|0160 92108473]], wenn du am Bahnhof bist",
    "Hochachtungsvoll\n[[P|Wolfgang Reiter]]\n[[E|w.reiter@kanzlei-reiter.at]]",
    "Mein Name ist [[P|Sven Petersen]] und ich brauche eine Vorlage für ein Kündigungsschreiben",
    "Hey [[P|Lukas]]! Kino am Samstag?",
    "hilf mir diesen Laborbefund zu verstehen, Patientennummer [[MR|0078812433]], [[P|Renate Fuchs]]",
    "Anmeldung: [[P|Paul Neumann]], geboren am [[D|14. Februar 2011]], wohnhaft [[A|Bahnhofstraße 12, 79098 Freiburg]]",
    "Liebe [[P|Frau Dr. Hartmann]],\nanbei die Befunde. Herzliche Grüße, [[P|Matthias Kern]]",
    "Mein Server zu Hause hat die IPv6 [[IP|2003:e2:4f1c:7a00:8d3b:1eff:fe64:9c21]], wie verstecke ich die?",
    "Sozialversicherungsnummer [[ID|65 170839 J 003]], brauche ich die für den neuen Job?",
    "gez. [[P|Hildegard Maurer]], wohnhaft in der [[A|Kirchweg 3, 53113 Bonn]]",
    "Festnetz [[T|0221 9382 4410]], mobil [[T|0172 4903128]] — bitte in meinem Kundenkonto aktualisieren",
    "Führerschein-Nr. [[DL|J010000SD51]], wird der bei der Umschreibung in der Schweiz behalten?",
    "Hier ist [[P|Emre Yilmaz]] aus Wien, meine Nummer ist [[T|+43 664 1827 3390]]",
    "Meine Versichertennummer der AOK ist [[H|{kvnr('A', '12345678')}]], gilt die auch im Ausland?",
    "Dicker Kuss,\n[[P|Tante Moni]]\n\n(ich will meinem Neffen zum Geburtstag schreiben)",
    "Mir wurde das Portemonnaie gestohlen mit Perso [[ID|T22000129]] und EC-Karte [[C|{luhn('5168 4410 3392 706')}]], was zuerst?",
    "ändere das Format dieses Geburtsdatums: [[D|5. Januar 1979]] in ISO",
    "Die IP der betrügerischen Bestellung war [[IP|46.114.21.88]], kann ich Anzeige erstatten?",
    "Hallo, hier ist [[P|Nina Scholz]], bitte das Angebot an [[E|nina.scholz@posteo.de]] schicken",
    "Reisepass: [[PP|CF2K81V07]] / Staatsangehörigkeit: deutsch / Name: [[P|Mareike Jansen]]",
    "Grüße an alle,\n[[P|Uwe]]",
    "Meine Meldeadresse ist [[A|Hauptstr. 101, 69117 Heidelberg]], ich wohne aber in Mannheim, was trage ich ein?",
    "Schreib ein Empfehlungsschreiben für meinen Praktikanten [[P|Jonas Winkler]]",
    "Versichertennummer [[H|{kvnr('M', '80241156')}]] auf der Gesundheitskarte, wozu brauche ich die beim Zahnarzt?",
    "Ich bin [[D|geboren am 30.04.1972]] in Kiel, wann kann ich in Rente gehen?",
    "Herr [[P|Bauer]], Ihre Bestellung ist unterwegs an [[A|Mühlenweg 7a, 28195 Bremen]]. -- klingt das freundlich?",
]
DE_BENIGN = [
    "~Was hat Max Planck mit der Quantentheorie zu tun?",
    "~Was ist der Unterschied zwischen Python 3.11 und 3.12?",
    "~Ich suche das Buch ISBN 978-3-15-000001-8, ist das Faust?",
    "~In der Doku steht max.mustermann@example.com als Testadresse, kann ich die ändern?",
    "~Goethe wurde am 28. August 1749 in Frankfurt geboren, was sind seine wichtigsten Werke?",
    "~Hallo zusammen, kennt jemand ein gutes Rezept für Käsespätzle?",
    "~Mit freundlichen Grüßen und vielen Dank im Voraus",
    "~Wie ändere ich die IP meiner Fritzbox auf 192.168.178.1?",
    "~Die Mauer fiel am 9. November 1989, wie kam es dazu?",
    "~Wie berechnet man die Prüfziffer der Steuer-ID?",
    "~Beethoven wurde am 17. Dezember 1770 getauft, wann genau wurde er geboren?",
    "~Meine Bestellung Nr. 4871 0499 2286 ist nicht angekommen, wie reklamiere ich?",
    "~Nach dem Update auf macOS 14.4.1 stürzt Excel ab, normal?",
    "~Wer war Otto von Bismarck?",
    "~Ist der Film 'Anruf 555' gut?",
    "~Erklär mir Einsteins Relativitätstheorie einfach",
    "~Was geschah am 3. Oktober 1990?",
    "~Wie viele Stellen hat eine deutsche IBAN?",
    "~Sehr geehrte Damen und Herren, hiermit möchte ich... ist das ein guter Anfang?",
    "~Wann wurde die Königsallee in Düsseldorf angelegt?",
    "~Wie oft ist Deutschland Fußballweltmeister geworden?",
    "~Version 4.2.1 der App stürzt ab, wie komme ich zur alten zurück?",
    "~Wofür braucht man eine Steuer-ID in Deutschland?",
    "~Thomas Mann bekam 1929 den Nobelpreis, für welches Buch?",
    "~Liebe Grüße an alle Leser! -- wie beende ich den Blogpost?",
    "~Wofür ist Port 3306 zuständig?",
    "~Gib mir ein Beispiel für eine Stripe-Testkarte, so wie 5555 5555 5555 4444",
    "~Wurde das Treffen vom 3. Mai 2025 verschoben? ich finde das Protokoll nicht",
    "~Wie schreibt man eine deutsche Telefonnummer im internationalen Format?",
    "~Wie lange regierte Friedrich der Große?",
    "~Wo liegt der Alexanderplatz?",
    "~Was regelt § 823 BGB?",
    "~Vergleiche das Galaxy S24 mit dem iPhone 15",
    "~Wer hat 'Die Verwandlung' geschrieben?",
    "~Hi! Wie soll ich meinen Hund nennen?",
    "~Was hat Konrad Zuse 1941 gebaut?",
    "Wie mache ich einen Hefezopf?",
    "Was packe ich für eine Woche Wandern in den Alpen ein?",
    "Erklär mir Inflation ganz einfach",
    "Ideen für einen Kindergeburtstag zu Hause?",
    "Wie lerne ich am besten Englisch?",
    "Schreib ein Gedicht über Herbstregen",
    "Wie lange muss ein Ei kochen, damit es hart ist?",
    "Welche Symptome hat eine Grippe?",
    "übersetze 'see you tomorrow' ins Deutsche",
    "Lohnt es sich, in München eine Wohnung zu kaufen?",
    "Fass die Weimarer Republik in einem Absatz zusammen",
    "Wie bekomme ich Rotweinflecken aus dem Teppich?",
    "Gib mir einen Trainingsplan für Anfänger im Fitnessstudio",
    "Erklär, was eine REST-API ist",
    "Was ist die Hauptstadt von Kanada?",
    "Liste mit Fantasy-Büchern für Jugendliche",
    "Wie funktionieren Solarzellen?",
    "Was bedeutet 'Fernweh'?",
    "Schreib eine Mail an meinen Chef, um Urlaub zu beantragen, formell",
    "Wie viele Kalorien hat eine Banane?",
    "Was sind die Unterschiede zwischen Deutsch in Deutschland und in der Schweiz?",
    "Empfiehl mir deutsche Serien auf Netflix",
    "Wie pflanze ich Basilikum im Topf?",
    "Was ist der Treibhauseffekt?",
    "Mach mir einen Lernplan fürs Abitur",
    "Warum ist der Himmel blau?",
    "Wie berechne ich Zinseszinsen?",
]


CALL = re.compile(r"\{([a-z_]+)\((.*?)\)\}")


def _call(m: re.Match[str]) -> str:
    """``{luhn('4716 2290 5518 447')}`` -> the completed number (arguments are string literals only)."""
    args = ast.literal_eval(f"({m.group(2)},)")
    return str(globals()[m.group(1)](*args))


def _row(markup: str, language: str, benign: bool) -> dict[str, object]:
    markup = CALL.sub(_call, markup)
    tricky = markup.startswith("~")
    markup = markup.removeprefix("~")
    entities = [{"type": ABBR[m.group(1)], "value": m.group(2)} for m in MARK.finditer(markup)]
    text = MARK.sub(lambda m: m.group(2), markup)
    assert benign == (not entities), markup
    row: dict[str, object] = {"text": text, "entities": entities, "source": "handwritten", "language": language}
    if tricky:
        row["tricky"] = True
    return row


def main() -> None:
    rows = []
    for lang, pos, neg in (("en", EN, EN_BENIGN), ("es", ES, ES_BENIGN), ("pt", PT, PT_BENIGN),
                           ("fr", FR, FR_BENIGN), ("de", DE, DE_BENIGN)):  # fmt: skip
        rows += [_row(m, lang, False) for m in pos] + [_row(m, lang, True) for m in neg]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} rows -> {OUT}")


if __name__ == "__main__":
    main()
