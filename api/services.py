"""The composition root: builds the store, embedder, indexes and retrievers from `Settings`, lazily.

The FastAPI lifespan and the CLI both hold one `Services`. Constructing it is cheap; the database
schema, the embedding model and each merchant's index load on first use (or in `warm_up`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from agent.compliance.claims import ClaimReader
from agent.compliance.wordbase import MerchantWords
from agent.conversations import ConversationStore
from agent.db import create_schema as create_agent_schema
from agent.live.host import HostLibrary
from agent.pipeline import AnswerPipeline, PipelineOptions
from agent.router import IntentRouter
from agent.tickets import TicketService
from agent.writers.base import Writer
from api.auth import KeyStore
from api.settings import Settings
from knowledge.embedders import CachedEmbedder, Embedder, make_embedder
from knowledge.images import ImageStore, is_image_url
from knowledge.importer import CatalogImporter, ImportReport
from knowledge.index import CatalogIndex
from knowledge.line_vectors import LineVectors
from knowledge.models import Problem, Product, ProgressFn
from knowledge.retriever import HybridRetriever
from knowledge.store import CatalogStore, create_engine_for

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from agent.live.bus import RoomBus
    from agent.live.manager import RoomFactory, RoomManager
    from agent.live.relay import RoomInputRelay
    from agent.live.script import LineRewriter

#: A file in an import with one of these suffixes is the merchant's compliance words file.
WORDS_SUFFIXES = (".yaml", ".yml")
_MERCHANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class InvalidMerchantError(ValueError):
    """A merchant id that cannot be used (it names directories on disk and rows in the database)."""


def check_merchant_id(merchant: str) -> str:
    """Return `merchant` if it is a valid id, else raise with what is allowed."""
    if not _MERCHANT_ID.match(merchant):
        raise InvalidMerchantError(
            f"merchant id {merchant!r} is not valid: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return merchant


class Services:
    """Shared, lazily built components for one process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._engine: Engine | None = None
        self._store: CatalogStore | None = None
        self._embedder: Embedder | None = None
        self._router: IntentRouter | None = None
        self._line_vectors: LineVectors | None = None
        self._merchant_words: MerchantWords | None = None
        self._merchant_routers: dict[str, tuple[int, IntentRouter]] = {}
        self._retrievers: dict[str, tuple[int, HybridRetriever]] = {}
        #: Catalog versions whose index this process has seen match the store (its own imports sync it).
        self._index_verified: dict[str, int] = {}
        self._conversations: ConversationStore | None = None
        self._tickets: TicketService | None = None
        self._pipeline: AnswerPipeline | None = None
        self._keys: KeyStore | None = None
        self._bus: RoomBus | None = None
        self._rooms: RoomManager | None = None
        self._relay: RoomInputRelay | None = None
        self._hosts: HostLibrary | None = None
        self._images: ImageStore | None = None

    # -- storage -------------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self.settings.data_dir.mkdir(parents=True, exist_ok=True)
                self._engine = create_engine_for(self.settings.resolved_database_url)
            return self._engine

    @property
    def store(self) -> CatalogStore:
        with self._lock:
            if self._store is None:
                store = CatalogStore(self.engine)
                store.create_schema()
                self._store = store
            return self._store

    @property
    def conversations(self) -> ConversationStore:
        with self._lock:
            if self._conversations is None:
                create_agent_schema(self.engine)
                self._conversations = ConversationStore(
                    self.engine, ttl_seconds=self.settings.conversation_ttl_seconds
                )
            return self._conversations

    @property
    def tickets(self) -> TicketService:
        with self._lock:
            if self._tickets is None:
                self._tickets = TicketService(
                    self.engine, self.conversations, reopen_on_message=self.settings.reopen_tickets_on_message
                )
            return self._tickets

    @property
    def pipeline(self) -> AnswerPipeline:
        with self._lock:
            if self._pipeline is None:
                self._pipeline = AnswerPipeline(
                    store=self.store,
                    retrievers=self.retriever,
                    conversations=self.conversations,
                    tickets=self.tickets,
                    writer=self._writer(),
                    options=PipelineOptions(max_message_chars=self.settings.max_message_chars),
                    router=self.router,
                    routers=self.router_for,
                    line_vectors=self.line_vectors,
                    words=self.merchant_words.compiled,
                )
            return self._pipeline

    def _llm_configured(self) -> bool:
        """True when ``writer = "llm"`` (then an endpoint or a key is required)."""
        s = self.settings
        if s.writer != "llm":
            return False
        if s.llm_base_url is None and s.llm_api_key is None:
            raise ValueError(
                "writer 'llm' needs ANCHOR_LLM_BASE_URL (an OpenAI-compatible server) or ANCHOR_LLM_API_KEY"
            )
        return True

    def script_rewriter(self) -> LineRewriter | None:
        """With ``writer = "llm"``, the model that rewords live-room script lines (each checked by the
        script builder's guard); None keeps the template lines."""
        if not self._llm_configured():
            return None
        from agent.live.rewrite import LLMLineRewriter

        s = self.settings
        return LLMLineRewriter.from_settings(
            base_url=s.llm_base_url, model=s.llm_model, api_key=s.llm_api_key, timeout=s.llm_timeout_seconds
        )

    def _writer(self) -> Writer | None:
        """The LLM writer when ``writer = "llm"``; None keeps the pipeline's template writer."""
        s = self.settings
        if not self._llm_configured():
            return None
        from agent.writers.llm import LLMWriter

        return LLMWriter.from_settings(
            base_url=s.llm_base_url,
            model=s.llm_model,
            api_key=s.llm_api_key,
            timeout=s.llm_timeout_seconds,
            first_token_timeout=s.llm_first_token_timeout_seconds,
            temperature=s.llm_temperature,
            max_tokens=s.llm_max_tokens,
        )

    @property
    def keys(self) -> KeyStore:
        """API keys (api/auth.py), hashed with the deployment's ``secret_key``."""
        with self._lock:
            if self._keys is None:
                self._keys = KeyStore(self.engine, self.settings.secret_key.get_secret_value())
            return self._keys

    # -- live rooms ----------------------------------------------------------------------------
    @property
    def images(self) -> ImageStore:
        """Product images downloaded at import (``<data_dir>/images``)."""
        with self._lock:
            if self._images is None:
                self._images = ImageStore(self.settings.data_dir / "images")
            return self._images

    @property
    def hosts(self) -> HostLibrary:
        """The merchants' host figure layer sets (``<data_dir>/hosts``)."""
        with self._lock:
            if self._hosts is None:
                self._hosts = HostLibrary(self.settings.data_dir / "hosts")
            return self._hosts

    @property
    def bus(self) -> RoomBus:
        """The room event bus: Redis when ``redis_url`` is set (several API processes), else in-process."""
        with self._lock:
            if self._bus is None:
                from agent.live.bus import make_bus

                self._bus = make_bus(self.settings.redis_url)
            return self._bus

    @property
    def rooms(self) -> RoomManager:
        """The live rooms of this process (directors, triage), sharing the catalog, pipeline and speech."""
        with self._lock:
            if self._rooms is None:
                from agent.live.manager import RoomManager

                self._rooms = RoomManager(self.room_factory(self.settings.room_tts_engine))
            return self._rooms

    def room_factory(self, tts_engine: str) -> RoomFactory:
        """What rooms are made of: this catalog and pipeline, speech by ``tts_engine`` ("auto", "edge",
        "espeak") in the rooms' audio format, the room bus, the room state table (created if missing)
        and the script builder (with the LLM rewrite when configured)."""
        from agent.live.manager import RoomFactory
        from agent.live.script import ScriptBuilder
        from agent.live.sources import source_opener
        from agent.live.state import RoomStateStore
        from voice import MasterSpec, build_tts

        state = RoomStateStore(self.engine)
        state.create_schema()
        tts = build_tts(
            tts_engine,  # type: ignore[arg-type]
            cache_dir=self.settings.data_dir / "tts-cache",
            master=MasterSpec(format=self.settings.room_audio_format),
        )
        return RoomFactory(
            catalog=self.store,
            pipeline=self.pipeline,
            tts=tts,
            bus=self.bus,
            state=state,
            script_builder=ScriptBuilder(
                self.store,
                rewriter=self.script_rewriter(),
                words=self.merchant_words.compiled,
                claims=self.claim_reader(),
            ),
            sources=source_opener(self.settings.platform_credentials()),
        )

    @property
    def room_relay(self) -> RoomInputRelay | None:
        """Chat and commands for rooms run by other processes (Redis); None without ``redis_url``."""
        if not self.settings.redis_url:
            return None
        rooms = self.rooms
        with self._lock:
            if self._relay is None:
                from agent.live.relay import RoomInputRelay

                self._relay = RoomInputRelay(self.settings.redis_url, rooms)
            return self._relay

    # -- retrieval -----------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = CachedEmbedder(
                    make_embedder(self.settings.embedder, batch_size=self.settings.embed_batch_size)
                )
            return self._embedder

    @property
    def router(self) -> IntentRouter:
        """The intent router: the merchant-independent model (`anchor router train`), reading the catalog
        embedder's vectors when it is the model's embedder (one embedding per message), else its own.

        Raises:
            ModelArtefactError: the model file is missing or unreadable; the message says how to rebuild it.
        """
        with self._lock:
            if self._router is None:
                self._router = IntentRouter.load(self.settings.intent_model, embedder=self.embedder)
            return self._router

    def claim_reader(self) -> ClaimReader | None:
        """The claim classifier over the configured embedder, for merchants' script lines (None when the
        packaged model is missing or was trained with another embedder)."""
        from agent.compliance.claims import ClaimModelError, claim_reader

        embedder = self.router.embedder
        try:
            return claim_reader(embedder.embed, embedder.name)
        except ClaimModelError as exc:
            log.warning("claim classifier not used, scripts are checked by the word base only: %s", exc)
            return None

    @property
    def merchant_words(self) -> MerchantWords:
        """Each merchant's own compliance words (`<data dir>/words/<merchant>.yaml`), applied to answers and
        room scripts alike."""
        if self._merchant_words is None:
            self._merchant_words = MerchantWords(self.settings.data_dir / "words")
        return self._merchant_words

    @property
    def line_vectors(self) -> LineVectors:
        """Sentence vectors of catalog lines (for answering by meaning), in the router's vector space,
        computed at ingest and kept in ``<data dir>/index/line_vectors.npz``."""
        router = self.router
        with self._lock:
            if self._line_vectors is None:
                embedder = router.embedder
                path = self.settings.data_dir / "index" / "line_vectors.npz"
                self._line_vectors = LineVectors(embedder.embed, embedder.name, path)
            return self._line_vectors

    def merchant_model_path(self, merchant: str) -> Path:
        """Where `anchor router train --merchant M` writes the merchant's own intent model."""
        return self.settings.data_dir / "models" / f"intents-{check_merchant_id(merchant)}.npz"

    def router_for(self, merchant: str) -> IntentRouter:
        """The merchant's own intent model when one was trained (reloaded when the file changes), else the
        shared one."""
        path = self.merchant_model_path(merchant)
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return self.router
        with self._lock:
            cached = self._merchant_routers.get(merchant)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        router = IntentRouter.load(path, embedder=self.embedder)
        with self._lock:
            self._merchant_routers[merchant] = (stamp, router)
        return router

    def index(self, merchant: str) -> CatalogIndex:
        return CatalogIndex(self.settings.index_dir, check_merchant_id(merchant), self.embedder)

    def retriever(self, merchant: str) -> HybridRetriever | None:
        """The merchant's retriever, reloaded when the catalog changed; None when nothing is indexed."""
        check_merchant_id(merchant)
        version = self.store.catalog_version(merchant)
        with self._lock:
            cached = self._retrievers.get(merchant)
            if cached is not None and cached[0] == version:
                return cached[1]
            index = self.index(merchant)
            if self._index_verified.get(merchant) != version:
                products = self.store.all_products(merchant)
                documents = self.store.documents(merchant)
                if not index.exists() and not products and not documents:
                    return None
                if not index.matches(products, documents):
                    # The index is behind the store (an import was killed after the store's commit, or the
                    # index was lost): rebuild it from the store, the source of truth, before serving.
                    log.warning(
                        "index of %s does not match its catalog (version %s): rebuilding", merchant, version
                    )
                    index.sync(products, documents)
                self._index_verified[merchant] = version
            elif not index.exists():
                return None
            index.load()
            retriever = HybridRetriever(index)
            self._retrievers[merchant] = (version, retriever)
            return retriever

    # -- catalog import ------------------------------------------------------------------------
    def ingest(
        self,
        files: Sequence[Path],
        merchant: str,
        *,
        replace: bool = False,
        skip_invalid: bool = False,
        force_index: bool = False,
        progress: ProgressFn | None = None,
        display_names: Sequence[str] | None = None,
    ) -> ImportReport:
        check_merchant_id(merchant)
        self.store.ensure_merchant(merchant)
        names = list(display_names) if display_names is not None else [Path(f).name for f in files]
        words = [
            (f, n) for f, n in zip(files, names, strict=True) if Path(n).suffix.lower() in WORDS_SUFFIXES
        ]
        if words:
            return self._ingest_with_words(
                files, names, words, merchant, replace, skip_invalid, force_index, progress
            )
        importer = CatalogImporter(self.store, self.settings.import_limits())
        report = importer.run(
            files,
            merchant,
            replace=replace,
            skip_invalid=skip_invalid,
            index=self.index(merchant),
            progress=progress,
            display_names=display_names,
            force_index=force_index,
        )
        with self._lock:
            self._retrievers.pop(merchant, None)
            if report.applied and not report.index_error:
                # The import's own sync left the index matching this version: no second check on first use.
                self._index_verified[merchant] = report.version
        if report.applied:
            # The vectors of every answerable line, so a question embeds only itself.
            products = self.store.all_products(merchant)
            if progress is not None:
                progress("line vectors", 0, len(products))
            self.line_vectors.prime(products)
            if progress is not None:
                progress("line vectors", len(products), len(products))
            self._fetch_images(report, products)
        return report

    def _fetch_images(self, report: ImportReport, products: Sequence[Product]) -> None:
        """Download the image URLs of the products this import added or changed (the live card shows
        them); a URL that fails is a warning naming the product, the URL and the reason."""
        changed = set(report.added) | set(report.updated)
        wanted = {
            p.images[0]: p.sku
            for p in products
            if p.sku in changed and p.images and is_image_url(p.images[0])
        }
        if not wanted:
            return
        fetched = self.images.fetch_all(wanted)
        for url, reason in fetched.failed:
            report.warnings.append(
                Problem("images", f"{wanted[url]}: image {url} not stored: {reason}", severity="warning")
            )

    def _ingest_with_words(
        self,
        files: Sequence[Path],
        names: list[str],
        words: list[tuple[Path, str]],
        merchant: str,
        replace: bool,
        skip_invalid: bool,
        force_index: bool,
        progress: ProgressFn | None,
    ) -> ImportReport:
        """An import holding the merchant's compliance words file(s): each is validated first; when one is
        not valid nothing at all is applied (words or catalog), otherwise the words are stored and the
        other files imported as usual."""
        from agent.compliance.wordbase import WordBase, WordBaseError

        problems: list[Problem] = []
        texts: list[tuple[str, str]] = []
        for path, name in words:
            try:
                text = Path(path).read_text(encoding="utf-8")
                WordBase.load([Path(path)])
                texts.append((name, text))
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(name, f"cannot read the words file ({exc})"))
            except WordBaseError as exc:
                problems.append(Problem(name, str(exc).replace(str(path), name)))
        if len(texts) > 1:
            problems.append(Problem(names[0], "give one words file per import (merge them into one)"))
        rest = [(f, n) for f, n in zip(files, names, strict=True) if (f, n) not in words]
        if problems:
            report = ImportReport(files=names, merchant=merchant, errors=problems)
            report.message = "nothing was applied: fix the words file and import again"
            return report
        if rest:
            report = self.ingest(
                [f for f, _ in rest],
                merchant,
                replace=replace,
                skip_invalid=skip_invalid,
                force_index=force_index,
                progress=progress,
                display_names=[n for _, n in rest],
            )
            if not report.applied:
                return report
        else:
            report = ImportReport(files=[], merchant=merchant, applied=True)
            report.version = self.store.catalog_version(merchant)
        name, text = texts[0]
        self.merchant_words.save(merchant, text, name=name)
        report.files = names
        report.side_files.append(name)
        return report

    def rebuild_index(self, merchant: str, progress: ProgressFn | None = None) -> object:
        """Re-derive the merchant's index from the store (after changing the embedder, say)."""
        check_merchant_id(merchant)
        stats = self.index(merchant).sync(
            self.store.all_products(merchant), self.store.documents(merchant), progress
        )
        with self._lock:
            self._retrievers.pop(merchant, None)
        return stats

    def warm_up(self, merchant: str | None = None) -> None:
        """Open the database, load the intent model and the default merchant's index before serving."""
        _ = self.store
        self.router.classify("warm up")
        retriever = self.retriever(merchant or self.settings.default_merchant)
        if retriever is not None:
            retriever.search("warm up", k=1)

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
                self._store = None
