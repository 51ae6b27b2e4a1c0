# stele-ca: the certificate authority daemon and its client subcommands (ca/*.c).
stele_program(stele-ca ca)
