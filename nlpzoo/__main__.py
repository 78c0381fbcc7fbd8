from nlpzoo.cli import entry

entry()
