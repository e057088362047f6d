"""Where an option is: how every configuration message names file, section and option."""

from filetransfer.config.record import Record, record
from filetransfer.errors import ConfigError


@record
class Place(Record):
    """A section of a file; ``place('user')`` names an option of it."""

    path: str
    section: str

    def __call__(self, option: str | None = None) -> str:
        return f'{self.path}: [{self.section}]' + (f' {option}' if option else '')

    def error(self, option: str | None, text: str) -> ConfigError:
        return ConfigError(f'{self(option)}: {text}')
