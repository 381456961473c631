"""EmoAlign inside beets: how your songs feel, as fields beets can query, and mood journeys.

    pip install "emoalign[beets]"        # then in beets' config.yaml:  plugins: emoalign

    beet emoalign [QUERY]                # analyse the matching items (skips those done)
    beet ls mood_valence:0.5..           # happy-side songs; mood_arousal, mood_quadrant too
    beet ls -f '$title $mood_words' mood_quadrant:4
    beet emoalign --journey sad "calm, hopeful" [QUERY] [--length N | --minutes M] [--out F]

`beet emoalign` runs each item through EmoAlign's pipeline and stores, in beets' database
only, the flexible attributes `mood_valence` and `mood_arousal` (in [-1, 1]),
`mood_quadrant` (Russell's 1-4; 0 for a reading too near the centre, or audio that is not
music), `mood_words` (the top 3 words of the `words` vocabulary, plain mood words by default)
and `mood_model` (the encoder and adapter: an item done with the same model is skipped;
`--force` redoes it). No audio file is touched: beets writes tags into files only when you
run its own `beet write`, and these fields are not tags it writes. The song embeddings a
journey needs go to an EmoAlign library file beside beets' database (`db`).

`--journey FROM TO` plans a playlist over the analysed items matching QUERY (journey.py):
FROM and TO are emotion words, an item (its beets id or path) or a valence,arousal point.
It prints the list and writes an M3U8 (`--out`, default `emoalign-journey.m3u8`).

Configuration (`emoalign:` in config.yaml): encoder (musicnn), adapter (the shipped one),
words (moods), db (emoalign.db beside beets' library), length (10).
"""

from __future__ import annotations

import os
from pathlib import Path

from beets import config as beets_config
from beets.dbcore import types
from beets.plugins import BeetsPlugin
from beets.ui import Subcommand, UserError, print_

from emoalign.text.labels import DEFAULT_LABELS

FIELDS = {"mood_valence": types.NullFloat(2), "mood_arousal": types.NullFloat(2),  # "-0.43"
          "mood_quadrant": types.NullInteger(), "mood_words": types.STRING,
          "mood_model": types.STRING}  # Null*: an item not analysed shows no 0
TOP_WORDS = 3
DEFAULT_PLAYLIST = "emoalign-journey.m3u8"


class EmoAlignPlugin(BeetsPlugin):
    item_types = FIELDS

    def __init__(self):
        super().__init__()
        self.config.add({"encoder": "musicnn", "adapter": None, "words": DEFAULT_LABELS, "db": None,
                         "length": 10})
        self._pipe = None

    def commands(self):
        command = Subcommand("emoalign", help="how songs feel (EmoAlign): valence, arousal, "
                                              "top words; mood journeys")
        command.parser.add_option("--journey", nargs=2, metavar="FROM TO",
                                  help="a playlist whose feeling moves from FROM to TO")
        command.parser.add_option("--length", type="int", help="songs in the journey")
        command.parser.add_option("--minutes", type="float", help="about how long a journey")
        command.parser.add_option("--out", help=f"the journey's M3U8 (default "
                                                f"{DEFAULT_PLAYLIST})")
        command.parser.add_option("-f", "--force", action="store_true",
                                  help="analyse items already done with this model again")
        command.func = self.run
        return [command]

    # ---- shared -------------------------------------------------------------------------

    def pipeline(self):
        if self._pipe is None:
            from emoalign.answer.pipeline import EmotionPipeline
            self._pipe = EmotionPipeline(encoder=self.config["encoder"].as_str(),
                                         adapter=self.config["adapter"].get())
        return self._pipe

    def db_path(self) -> Path:
        configured = self.config["db"].get()
        if configured:
            return Path(configured).expanduser()
        return Path(beets_config["library"].as_filename()).with_name("emoalign.db")

    def model_id(self) -> str:
        pipe = self.pipeline()
        return f"{pipe.encoder.name}/{pipe.adapter_card['sha256'][:16]}"

    def run(self, lib, opts, args):
        from emoalign.library.store import LibraryError
        try:
            if opts.journey:
                self.journey(lib, opts, args)
            else:
                self.analyse(lib.items(args), opts.force)
        except (LibraryError, ValueError) as error:  # JourneyError is a ValueError
            raise UserError(str(error)) from None

    # ---- beet emoalign [QUERY] ------------------------------------------------------------

    def analyse(self, items, force: bool = False) -> None:
        from emoalign.digest import file_digest
        from emoalign.library.indexing import failure_reason, scored_labels, song_row
        from emoalign.text.labels import load_label_set, parse_words
        from emoalign.library.store import Library
        pipe, model = self.pipeline(), self.model_id()
        vocabulary = self.config["words"].as_str()
        try:
            words = list(load_label_set(vocabulary).labels)
        except (KeyError, ValueError, FileNotFoundError):
            words = parse_words(vocabulary)
        labels = scored_labels()
        done = skipped = failed = 0
        with Library(self.db_path()) as store:
            for item in items:
                path = os.fsdecode(item.path)
                if not force and item.get("mood_model") == model and store.song(path):
                    skipped += 1
                    continue
                try:
                    song = pipe.analyze(path)
                    row = song_row(pipe, song, file_digest(path), path)
                except (OSError, ValueError, RuntimeError) as error:  # AudioError: ValueError
                    self._log.warning("{}: {}", Path(path).name, failure_reason(error))
                    failed += 1
                    continue
                store.add(row, labels)
                item["mood_valence"] = round(float(row.valence), 4)
                item["mood_arousal"] = round(float(row.arousal), 4)
                answer = pipe.predict(song, words, TOP_WORDS)  # the card's answer, no audio work
                item["mood_quadrant"] = answer.va.quadrant  # 0: neutral / mixed, or not music
                item["mood_words"] = ", ".join(answer.scores.top)
                item["mood_model"] = model
                item.store()  # beets' database only; files change with `beet write` alone
                done += 1
                print_(f"{item.get('mood_valence'):+.2f} {item.get('mood_arousal'):+.2f}  "
                       f"{item['mood_words']}  {Path(path).name}")
        print_(f"emoalign: {done} analysed, {skipped} already done with this model, "
               f"{failed} failed.")

    # ---- beet emoalign --journey FROM TO [QUERY] ------------------------------------------

    def journey(self, lib, opts, args) -> None:
        from emoalign.commands import show_journey
        from emoalign.library.journey import MIN_SONGS, plan_present
        from emoalign.library.store import Library
        from emoalign.library.playlist import endpoint, library_pool, title_of, write_m3u8
        from emoalign.library.search import SongIndex
        items = {os.fsdecode(item.path): item for item in lib.items(args)}
        if not self.db_path().is_file():
            raise UserError("No song is analysed yet: run `beet emoalign` first.")
        with Library(self.db_path(), create=False) as store:
            index = store.index(self.config["encoder"].as_str())
        rows = [i for i, key in enumerate(index.keys) if key in items]
        pool, _, _ = library_pool(SongIndex("beets", [index.keys[i] for i in rows],
                                            index.embeddings[rows], [index.info[i] for i in rows]))
        if len(pool) < MIN_SONGS:
            raise UserError(f"{len(pool)} analysed song(s) match; a journey needs at least "
                            f"{MIN_SONGS}. Run `beet emoalign [QUERY]` first.")
        row_of = {path: row for row, path in enumerate(pool.names)}

        def find_song(key: str) -> int | None:
            if key.isdigit():  # a beets item id
                item = lib.get_item(int(key))
                if item is None or os.fsdecode(item.path) not in row_of:
                    raise UserError(f"No analysed item with id {key} matches; `beet ls -f "
                                    f"'$id $title'` lists them.")
                return row_of[os.fsdecode(item.path)]
            return row_of.get(os.path.abspath(os.path.expanduser(key)))

        start = endpoint(opts.journey[0], pool, find_song, self.pipeline)
        end = endpoint(opts.journey[1], pool, find_song, self.pipeline)
        journey, missing = plan_present(pool, start, end,
                                        opts.length or self.config["length"].get(int),
                                        opts.minutes, lambda row: os.path.isfile(pool.names[row]))
        for row in missing:
            print_(f"note: {Path(pool.names[row]).name} is no longer on disk and was skipped.")
        names = [_title(items[pool.names[r]]) for r in journey.rows]
        show_journey(journey, pool, names)
        out = write_m3u8(opts.out or DEFAULT_PLAYLIST, journey,
                         [Path(pool.names[r]) for r in journey.rows], names, title_of(journey))
        print_(f"{len(journey)} songs written to {out}.")


def _title(item) -> str:
    """'Artist - Title', or the file's name when the item has no such tags."""
    artist, title = item.get("artist") or "", item.get("title") or ""
    if title:
        return f"{artist} - {title}" if artist else title
    return Path(os.fsdecode(item.path)).stem
