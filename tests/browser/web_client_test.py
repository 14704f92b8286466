#!/usr/bin/env python3
"""The web client in headless Chromium (issue 14, docs/WEB.md).

Starts pchatd (a fresh data folder, free loopback ports), a SIP user (web_sip_peer: the
in-tree client) and chromedriver, then drives the page at / over W3C WebDriver with
Python's standard library only: sign in, find and follow the demo room, see its unread count
rise and clear as it is opened, "load older" pages back to the room's first message, the
roster shows who is in, post and see it acknowledged, the SIP user receives it, the SIP
user's post arrives in the page, a post or a topic carrying `<img src=x onerror=...>` shows
as text (no element, no script run) with its links as links, an auditorium leaves a
non-presenter no composer, a file is uploaded, listed and downloaded with the same bytes, the
history search finds a message and opens the room at it (also one older than the back-chat),
a topic feed fires on a matching post and clears when opened, a post in a followed room
while the page is in the background notifies (the Notification API recorded), and after
pchatd restarts the page reconnects and shows what was posted meanwhile, each message once.
Screenshots of the room search and the room view are kept in --artifacts. Every wait has a
deadline; everything started is stopped by its pid in a finally.

Chromium missing: the test fails (scripts/install-deps.sh installs it), unless the
environment says PCHAT_SKIP_BROWSER_TESTS=1: then it skips (exit 77) saying so.
"""
import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77
# Whether the element with the id given is rendered (the [hidden] attribute honoured).
VISIBLE = "const e = document.getElementById(arguments[0]); return !!e && e.getClientRects().length > 0"
DEADLINE = 15.0  # seconds for each wait below
TAB, ENTER = '\ue004', '\ue007'  # WebDriver key codes


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait(what, fn, deadline=DEADLINE, poll=0.1):
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(poll)
    raise AssertionError('timed out waiting for %s (last: %r)' % (what, last))


class WebDriver:
    ELEMENT = 'element-6066-11e4-a52e-4f735466cecf'

    def __init__(self, port):
        self.base = 'http://127.0.0.1:%d' % port
        self.session = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read() or b'{}').get('value')
        except urllib.error.HTTPError as e:
            raise AssertionError('WebDriver %s %s: %s %s' % (method, path, e.code, e.read()[:500]))

    def start(self, chromium):
        caps = {'capabilities': {'alwaysMatch': {'browserName': 'chrome', 'goog:chromeOptions': {
            'binary': chromium,
            'args': ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
                     '--disable-background-networking', '--disable-component-update', '--disable-sync',
                     '--disable-dev-shm-usage', '--user-data-dir=' + tempfile.mkdtemp(prefix='pchat-chromium-'),
                     '--window-size=1000,700']}}}}
        self.session = self.call('POST', '/session', caps)['sessionId']

    def s(self, path):
        return '/session/%s%s' % (self.session, path)

    def go(self, url):
        self.call('POST', self.s('/url'), {'url': url})

    def find(self, css):
        v = self.call('POST', self.s('/element'), {'using': 'css selector', 'value': css})
        return v[self.ELEMENT]

    def type(self, css, text):
        self.call('POST', self.s('/element/%s/value' % self.find(css)), {'text': text})

    def click(self, css):
        self.call('POST', self.s('/element/%s/click' % self.find(css)), {})

    def keys(self, text):
        """Key presses to whatever has the focus, as a keyboard would (WebDriver actions)."""
        acts = []
        for ch in text:
            acts += [{'type': 'keyDown', 'value': ch}, {'type': 'keyUp', 'value': ch}]
        self.call('POST', self.s('/actions'), {'actions': [{'type': 'key', 'id': 'kb', 'actions': acts}]})

    def tab_to(self, css, most=80):
        """Tab until the focused element matches `css`; False if it never does."""
        for _ in range(most):
            if self.js("return !!document.activeElement && document.activeElement.matches(arguments[0])", css):
                return True
            self.keys(TAB)
        return False

    def size(self, width, height):
        self.call('POST', self.s('/window/rect'), {'width': width, 'height': height})

    def js(self, script, *args):
        return self.call('POST', self.s('/execute/sync'), {'script': script, 'args': list(args)})

    def screenshot(self, path):
        png = base64.b64decode(self.call('GET', self.s('/screenshot')))
        with open(path, 'wb') as f:
            f.write(png)

    def quit(self):
        if self.session:
            try:
                self.call('DELETE', self.s(''))
            except Exception:
                pass


class Peer:
    """web_sip_peer: a SIP user speaking line by line."""

    def __init__(self, path, sip_port, user, password):
        self.p = subprocess.Popen([path, '--port=%d' % sip_port, '--user=' + user, '--password=' + password],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        os.set_blocking(self.p.stdout.fileno(), False)
        self.lines = []
        self.buf = ''

    def poll(self):
        try:
            chunk = self.p.stdout.read()
        except (BlockingIOError, TypeError):
            chunk = None
        if chunk:
            self.buf += chunk
            *done, self.buf = self.buf.split('\n')
            self.lines.extend(done)
        return self.lines

    def line(self, prefix):
        def found():
            for i, l in enumerate(self.poll()):
                if l.startswith(prefix):
                    return self.lines.pop(i)
            if self.p.poll() is not None:
                raise AssertionError('web_sip_peer exited with %s' % self.p.returncode)
            return None
        return wait('the SIP user to print %r' % prefix, found)

    def send(self, line):
        self.p.stdin.write(line + '\n')
        self.p.stdin.flush()

    def stop(self):
        if self.p.poll() is None:
            try:
                self.send('quit')
                self.p.wait(timeout=5)
            except Exception:
                self.p.kill()
                self.p.wait()


def messages(d):
    return d.js("return [...document.querySelectorAll('#messages li')].map(li => ({"
                "cls: li.className, author: li.querySelector('.author').textContent,"
                "text: li.querySelector('.text').textContent, state: li.querySelector('.state').textContent}))")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--pchatd', required=True)
    ap.add_argument('--pchatctl', required=True)
    ap.add_argument('--peer', required=True)
    ap.add_argument('--artifacts', required=True)
    a = ap.parse_args()

    chromium = shutil.which('chromium')
    driver_bin = shutil.which('chromedriver')
    if not chromium or not driver_bin:
        if os.environ.get('PCHAT_SKIP_BROWSER_TESTS') == '1':
            print('SKIPPED: chromium or chromedriver not installed and PCHAT_SKIP_BROWSER_TESTS=1 '
                  '(scripts/install-deps.sh installs chromium and chromium-driver)')
            return SKIP
        print('FAIL: chromium and chromedriver are needed (Debian chromium, chromium-driver: '
              'scripts/install-deps.sh); set PCHAT_SKIP_BROWSER_TESTS=1 to skip on a machine without them')
        return 1

    os.makedirs(a.artifacts, exist_ok=True)
    work = tempfile.mkdtemp(prefix='pchat-web-')
    data = os.path.join(work, 'data')
    procs = []
    driver = None
    peer = None
    try:
        out = open(os.path.join(work, 'pchatd.out'), 'w+')
        err = open(os.path.join(a.artifacts, 'pchatd.err'), 'w')
        server = subprocess.Popen([a.pchatd, '--data-dir=' + data, '--sip-port=0', '--http-port=0'],
                                  stdout=out, stderr=err)
        procs.append(server)

        def ports():
            out.seek(0)
            text = out.read()
            got = dict(l.split('=', 1) for l in text.splitlines() if '=' in l and l.split('=', 1)[0].endswith('port'))
            return got if 'http-port' in got else None
        got = wait('pchatd to print its ports', ports, deadline=30)
        http_port, sip_port = int(got['http-port']), int(got['sip-port'])
        base = 'http://127.0.0.1:%d' % http_port

        def ctl(*args):
            subprocess.run([a.pchatctl, '--data-dir=' + data, '--server=127.0.0.1:%d' % http_port] + list(args),
                           check=True, stdout=subprocess.DEVNULL, timeout=30)
        ctl('user', 'new', '--uri', 'sip:wendy@example.com', '--password', 'pw-wendy')
        ctl('user', 'new', '--uri', 'sip:sam@example.com', '--password', 'pw-sam')

        peer = Peer(a.peer, sip_port, 'sam@example.com', 'pw-sam')
        room = peer.line('room ').split(' ', 1)[1]
        # More history than the back-chat shows (30) and than one "load older" page (100).
        peer.send('posts 160 history')
        peer.line('acked 160')

        dport = free_port()
        chromedriver = subprocess.Popen([driver_bin, '--port=%d' % dport, '--allowed-ips=127.0.0.1'],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(chromedriver)
        driver = WebDriver(dport)
        wait('chromedriver', lambda: _ready(driver))
        t0 = time.monotonic()
        driver.start(chromium)
        print('browser session started in %.2f s' % (time.monotonic() - t0))

        # Sign in: a wrong password says so, the right one opens the chat.
        driver.go(base + '/')
        wait('the sign-in form', lambda: driver.js(VISIBLE, 'signin'))
        assert driver.js(VISIBLE, 'chat') is False, 'the chat view is shown before sign-in'
        driver.type('#address', 'wendy@example.com')
        driver.type('#password', 'wrong')
        driver.click('#signin-btn')
        wait('the sign-in error', lambda: driver.js("return document.getElementById('signin-error').textContent"))
        driver.js("document.getElementById('password').value = ''")
        driver.type('#password', 'pw-wendy')
        driver.click('#signin-btn')
        wait('signed in', lambda: driver.js("return document.getElementById('who').textContent") == 'sip:wendy@example.com')
        assert driver.js(VISIBLE, 'signin') is False, 'the sign-in form is still shown after sign-in'
        assert driver.js(VISIBLE, 'chat') is True, 'the chat view is not shown'

        # Find and follow the demo room: it shows with its privacy, then in the followed list.
        wait('the empty followed list', lambda: driver.js("return document.querySelector('#rooms li.empty') !== null"))
        driver.type('#find-text', 'demo')
        driver.click('#find-btn')
        found = '#found li[data-uri="%s"]' % room
        wait('the demo room found', lambda: driver.js("return !!document.querySelector(arguments[0])", found + ' button.follow'))
        facts = driver.js("return document.querySelector(arguments[0]).textContent", found + ' .facts')
        assert any(w in facts for w in ('open', 'closed', 'secret')), 'no privacy shown: %r' % facts
        driver.click(found + ' button.follow')
        wait('the follow saved', lambda: driver.js("return !!document.querySelector(arguments[0])", found + ' button.unfollow'))
        driver.screenshot(os.path.join(a.artifacts, 'find.png'))
        print('found and followed the demo room')

        # An unread count: the SIP user posts while the room is not open; the count shows in
        # the followed list, and opening the room clears it.
        peer.send('post while you were away')
        peer.line('acked')
        badge = '#rooms button[data-uri="%s"] .unread' % room
        wait('the unread count', lambda: driver.js(
            "const b = document.querySelector(arguments[0]); return b ? b.textContent : null", badge) == '1')
        print('unread count rose')

        # Open the demo room from the followed list.
        wait('the demo room in the list',
             lambda: driver.js("return !!document.querySelector('#rooms button[data-uri=\"%s\"]')" % room))
        driver.click('#rooms button[data-uri="%s"]' % room)
        wait('the room view', lambda: driver.js("return document.getElementById('room-name').textContent") == 'Demo Room')
        wait('the unread count cleared', lambda: driver.js("return document.querySelector(arguments[0]) === null", badge))
        print('unread count cleared on opening the room')

        # Back-chat, then "load older" pages back to the room's first message: each stored
        # message once, in order; the button goes at the start of the history.
        wait('the back-chat', lambda: any(m['text'] == 'history 160' for m in messages(driver)))
        first = len(messages(driver))  # the back-chat: DefaultChatHistory (30) of the 50 asked
        assert 0 < first < 160, first
        assert driver.js(VISIBLE, 'older'), 'no "load older" button with %d of 160 messages shown' % first
        clicks = 0
        while driver.js(VISIBLE, 'older'):
            clicks += 1
            assert clicks <= 4, 'load older does not end'
            shown = len(messages(driver))
            driver.click('#older')
            wait('older messages', lambda: len(messages(driver)) > shown or not driver.js(VISIBLE, 'older'))
        seqs = driver.js("return [...document.querySelectorAll('#messages li')].map(li => Number(li.dataset.seq))")
        assert seqs == list(range(1, len(seqs) + 1)), 'not every message once in order: %s' % seqs
        texts = [m['text'] for m in messages(driver) if m['text'].startswith('history ')]
        assert texts == ['history %d' % i for i in range(1, 161)], texts[:5]
        print('load older: %d messages after %d clicks, from seq 1' % (len(seqs), clicks))

        # Who is in the room: the SIP user and me.
        members = "return [...document.querySelectorAll('#members li')].map(li => li.textContent).sort().join(' ')"
        wait('the roster', lambda: driver.js(members) == 'sam@example.com wendy@example.com')

        # Post: pending, then acknowledged; the SIP user receives it.
        driver.type('#text', 'hello from Chromium')
        driver.click('#send')
        wait('the post acknowledged',
             lambda: any(m['text'] == 'hello from Chromium' and 'acked' in m['cls'] for m in messages(driver)))
        got_line = peer.line('got sip:wendy@example.com ')
        assert got_line.endswith('hello from Chromium'), got_line
        print('posted, acknowledged, received by the SIP user')

        # The SIP user's posts arrive live; markup in them is text.
        peer.send('post hello from SIP')
        peer.line('acked')
        wait('the SIP post in the page',
             lambda: any(m['text'] == 'hello from SIP' and m['author'] == 'sip:sam@example.com' for m in messages(driver)))
        evil = '<img src=x onerror="window.__pwned=1"> <b>not bold</b>'
        peer.send('post ' + evil)
        peer.line('acked')
        wait('the markup post shown as text', lambda: any(m['text'] == evil for m in messages(driver)))
        imgs = driver.js("return document.querySelectorAll('#messages img, #messages b').length")
        pwned = driver.js("return window.__pwned === undefined ? 'no' : 'yes'")
        assert imgs == 0, 'markup became elements: %s' % imgs
        assert pwned == 'no', 'an injected handler ran'
        # The page's own post with markup, too.
        driver.type('#text', '<script>window.__pwned=2</script>')
        driver.click('#send')
        wait('the page\'s markup post acknowledged',
             lambda: any(m['text'] == '<script>window.__pwned=2</script>' and 'acked' in m['cls'] for m in messages(driver)))
        assert driver.js("return window.__pwned === undefined ? 'no' : 'yes'") == 'no'
        print('markup shown as text, nothing ran')

        # The topic, changed by an admin, shows live: lines kept, the link a link, markup text.
        topic = 'Release notes <img src=x onerror="window.__pwned=3">\nsee https://example.com/notes?a=1.'
        ctl('room', 'set', '--identity', room, '--topic', topic)
        wait('the new topic', lambda: driver.js("return document.getElementById('room-topic').textContent") == topic)
        links = driver.js("return [...document.querySelectorAll('#room-topic a')].map(a => a.href)")
        assert links == ['https://example.com/notes?a=1'], links
        assert driver.js("return document.querySelectorAll('#room-topic img').length") == 0
        assert driver.js("return window.__pwned === undefined ? 'no' : 'yes'") == 'no'
        print('topic shown live and safely')

        # An auditorium: only presenters post; the page says so and offers no composer.
        ctl('room', 'set', '--identity', room, '--type', 'auditorium', '--presenters', 'sip:sam@example.com')
        wait('the read-only note', lambda: driver.js(VISIBLE, 'read-only') and not driver.js(VISIBLE, 'post'))
        note = driver.js("return document.getElementById('read-only').textContent")
        assert 'only its presenters post' in note, note
        peer.send('post the presenter speaks')
        peer.line('acked')
        wait('the presenter\'s post', lambda: any(m['text'] == 'the presenter speaks' for m in messages(driver)))
        driver.screenshot(os.path.join(a.artifacts, 'auditorium.png'))
        ctl('room', 'set', '--identity', room, '--type', 'normal')
        wait('the composer back', lambda: driver.js(VISIBLE, 'post') and not driver.js(VISIBLE, 'read-only'))
        print('auditorium: read-only for a non-presenter, composer back after')

        # Files: upload a small file, see it listed (its name as text), download it: the
        # same bytes. The room is told with a link to it.
        payload = bytes(range(256)) + b'<script>window.__pwned=4</script>\n'
        fname = 'notes <b>1<b> & co.bin'  # markup as text (no '/': names are file names)
        fpath = os.path.join(work, fname)
        with open(fpath, 'wb') as f:
            f.write(payload)
        driver.type('#file-input', fpath)
        driver.click('#upload-btn')
        wait('the upload done', lambda: driver.js("return document.getElementById('upload-status').textContent")
             == 'uploaded ' + fname)
        assert driver.js("return document.getElementById('upload-progress').value") == 100, 'progress not at 100%'
        listed = "return [...document.querySelectorAll('#file-list a')].map(a => a.textContent)"
        wait('the file listed', lambda: driver.js(listed) == [fname])
        assert driver.js("return document.querySelectorAll('#file-list b, #messages b').length") == 0
        got = driver.js("return fetch(document.querySelector('#file-list a').href)"
                        ".then(r => r.arrayBuffer()).then(b => Array.from(new Uint8Array(b)))")
        assert bytes(got) == payload, 'downloaded %d bytes, not the %d uploaded' % (len(got), len(payload))
        wait('the room told, with a link', lambda: driver.js(
            "return [...document.querySelectorAll('#messages li')].some(li =>"
            " li.querySelector('.text').textContent.startsWith('shared a file: ' + arguments[0]) &&"
            " li.querySelector('.text a') !== null)", fname))
        assert driver.js("return window.__pwned === undefined ? 'no' : 'yes'") == 'no'
        print('file uploaded, listed, downloaded with the same %d bytes' % len(payload))

        # History search finds the SIP user's message and opens the room at it.
        driver.type('#msg-search-text', '"hello from SIP"')
        driver.click('#msg-search-btn')
        hit = '#msg-results li.hit'
        wait('a search result', lambda: driver.js("return document.querySelectorAll(arguments[0]).length", hit) >= 1)
        got = driver.js("const li = document.querySelector(arguments[0]);"
                        "return {n: document.querySelectorAll(arguments[0]).length, seq: li.dataset.seq,"
                        " room: li.dataset.room, text: li.querySelector('.text').textContent}", hit)
        assert got['n'] == 1 and got['room'] == room and got['text'] == 'hello from SIP', got
        driver.click(hit + ' button.open-hit')
        wait('the room opened at the message',
             lambda: driver.js("const li = document.querySelector('#messages li.target');"
                               "return li ? li.dataset.seq + ' ' + li.querySelector('.text').textContent : null")
             == got['seq'] + ' hello from SIP')
        print('search found the message and opened the room at it')

        # A search result older than the back-chat: the room opens and pages back to it.
        driver.js("document.getElementById('msg-search-text').value = ''")
        driver.type('#msg-search-text', '"history 1"')
        driver.click('#msg-search-btn')
        wait('the old message found', lambda: driver.js(
            "const li = document.querySelector('#msg-results li.hit');"
            "return li && li.querySelector('.text').textContent === 'history 1'"))
        driver.click('#msg-results li.hit button.open-hit')
        wait('the room paged back to the old message',
             lambda: driver.js("const li = document.querySelector('#messages li.target');"
                               "return li ? li.querySelector('.text').textContent : null") == 'history 1')
        print('search opened the room at a message older than the back-chat')

        # A topic feed: a saved search lights up when the SIP user posts a match; opening it
        # shows the match and clears it.
        driver.js("document.getElementById('msg-search-text').value = ''")
        driver.type('#msg-search-text', 'giraffe')
        driver.click('#save-feed')
        wait('the feed saved', lambda: driver.js("return document.querySelectorAll('#feeds button.feed').length") == 1)
        peer.send('post a giraffe walked in')
        peer.line('acked')
        feed_badge = '#feeds button.feed .unread'
        wait('the topic feed lit up', lambda: driver.js(
            "const b = document.querySelector(arguments[0]); return b ? b.textContent : null", feed_badge) == '1')
        driver.click('#feeds button.feed')
        wait('the feed opened and cleared', lambda: driver.js(
            "return document.querySelector(arguments[0]) === null &&"
            " [...document.querySelectorAll('#msg-results li.hit .text')].map(e => e.textContent).join('|')"
            " === 'a giraffe walked in'", feed_badge))
        print('a topic feed fired and cleared')

        # Browser notifications: with the page in the background (visibility hidden) and
        # notifications allowed (the Notification API recorded: headless Chromium shows none),
        # a post in a followed room raises its count and notifies; back in view, it clears.
        driver.js("window.__notes = [];"
                  "window.Notification = class { constructor(t, o) { window.__notes.push(t + ': ' + o.body); }"
                  " static get permission() { return 'granted'; } };"
                  "Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});"
                  "document.dispatchEvent(new Event('visibilitychange'));")
        peer.send('post while the tab is in the background')
        peer.line('acked')
        wait('a browser notification', lambda: driver.js("return window.__notes.join('|')") == 'Demo Room: 1 unread')
        driver.js("Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'visible'});"
                  "document.dispatchEvent(new Event('visibilitychange'));")
        wait('the count cleared in view', lambda: driver.js("return document.querySelector(arguments[0]) === null", badge))
        print('a notification in the background, cleared back in view')

        shot = os.path.join(a.artifacts, 'room.png')
        driver.screenshot(shot)
        print('screenshot: %s' % shot)

        # The server restarts: the sign-in survives it, the page reconnects and joins again
        # after the last seq it saw, and shows what was posted meanwhile, each message once.
        peer.stop()
        peer = None
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        wait('the page to see the server gone',
             lambda: driver.js("return document.getElementById('status').textContent") != 'connected')
        out.seek(0)
        out.truncate()
        server = subprocess.Popen([a.pchatd, '--data-dir=' + data, '--sip-port=%d' % sip_port,
                                   '--http-port=%d' % http_port], stdout=out, stderr=err)
        procs.append(server)
        wait('pchatd to print its ports again', ports, deadline=30)
        peer = Peer(a.peer, sip_port, 'sam@example.com', 'pw-sam')
        peer.line('room ')
        peer.send('posts 3 after restart')
        peer.line('acked 3')
        after = ['after restart %d' % i for i in (1, 2, 3)]
        wait('the posts made while the page was away',
             lambda: [m['text'] for m in messages(driver) if m['text'].startswith('after restart')] == after, deadline=30)
        wait('connected again', lambda: driver.js("return document.getElementById('status').textContent") == 'connected')
        seqs = driver.js("return [...document.querySelectorAll('#messages li')].map(li => Number(li.dataset.seq))")
        assert seqs == list(range(1, len(seqs) + 1)), 'a message lost or shown twice: %s' % seqs[-12:]
        assert driver.js("return document.getElementById('who').textContent") == 'sip:wendy@example.com'
        print('reconnected after a server restart: %d messages, each once' % len(seqs))

        # My rooms: a Creator makes a room through the view; a member written without sip: is
        # refused next to its field, in words.
        ctl('category', 'new', '--name', 'Clubs', '--creators', 'sip:wendy@example.com')
        driver.click('#my-rooms')
        wait('My rooms in place of the room', lambda: driver.js(VISIBLE, 'manage') and not driver.js(VISIBLE, 'room'))
        wait('the create button', lambda: driver.js(VISIBLE, 'new-room'))
        driver.click('#new-room')
        driver.type('#rf-name', 'Kayak <b>Club</b>')
        driver.js("const s = document.getElementById('rf-category');"
                  "s.value = [...s.options].find(o => o.textContent === 'Clubs').value;")
        driver.type('#rf-description', 'paddling on weekends')
        driver.type('#rf-members', 'sam@example.com')
        driver.click('#save-room')
        wait('the members error', lambda: 'not a SIP address' in driver.js("return document.getElementById('err-members').textContent"))
        driver.js("document.getElementById('rf-members').value = ''")
        driver.type('#rf-members', 'sip:sam@example.com')
        driver.click('#save-room')
        names = "return [...document.querySelectorAll('#managed tbody tr .name')].map(t => t.textContent)"
        wait('the room listed', lambda: 'Kayak <b>Club</b>' in driver.js(names))
        cells = driver.js("const tr = [...document.querySelectorAll('#managed tbody tr')]"
                          ".find(t => t.querySelector('.name').textContent === 'Kayak <b>Club</b>');"
                          "return [...tr.children].map(t => t.textContent)")
        assert cells[1:4] == ['Clubs', 'paddling on weekends', 'Anyone can find it; members join'], cells
        assert driver.js("return document.querySelector('#managed b') === null"), 'a name rendered as HTML'
        driver.screenshot(os.path.join(a.artifacts, 'my-rooms.png'))
        print('created a room in My rooms')

        # Handing the room to someone else warns first, then it leaves My rooms.
        driver.js("[...document.querySelectorAll('#managed tbody tr')]"
                  ".find(t => t.querySelector('.name').textContent === 'Kayak <b>Club</b>').querySelector('button.edit').click()")
        wait('the edit form', lambda: driver.js("return document.getElementById('rf-managers').value") == 'sip:wendy@example.com')
        driver.js("document.getElementById('rf-managers').value = ''")
        driver.type('#rf-managers', 'sip:sam@example.com')
        driver.click('#save-room')
        wait('the warning', lambda: 'not among the managers' in driver.js("return document.getElementById('err-managers').textContent"))
        assert 'Kayak <b>Club</b>' in driver.js(names), 'saved without the warning being confirmed'
        driver.click('#save-room')
        wait('the room gone from My rooms', lambda: 'Kayak <b>Club</b>' not in driver.js(names))
        print('handed a room over after a warning')

        # Sign out: back to the form.
        driver.click('#signout')
        wait('signed out', lambda: driver.js(VISIBLE, 'signin') and not driver.js(VISIBLE, 'chat'))
        # Signed out for the server too: the page's cookie no longer signs in.
        assert driver.js("return fetch('/api/web/session').then(r => r.status)") == 401

        # By keyboard alone, on a phone-sized screen: sign in, open a followed room, post.
        driver.size(390, 780)
        driver.go(base + '/')
        wait('the sign-in form', lambda: driver.js(VISIBLE, 'signin'))
        assert driver.tab_to('#address'), 'Tab never reaches the address field'
        driver.keys('wendy@example.com' + TAB + 'pw-wendy' + ENTER)
        wait('the chat view after a keyboard sign-in', lambda: driver.js(VISIBLE, 'chat'))
        wait('the followed room listed', lambda: driver.js("return !!document.querySelector('#rooms button.room:not([disabled])')"))
        assert driver.tab_to('#rooms button.room'), 'Tab never reaches the followed room'
        driver.keys(ENTER)
        wait('the room opened by keyboard', lambda: driver.js(VISIBLE, 'text'))
        assert driver.tab_to('#text'), 'Tab never reaches the message box'
        driver.keys('typed on a phone' + ENTER)
        wait('the keyboard post acknowledged',
             lambda: any(m['text'] == 'typed on a phone' and 'acked' in m['cls'] for m in messages(driver)))
        got_line = peer.line('got sip:wendy@example.com ')
        assert got_line.endswith('typed on a phone'), got_line
        wide = driver.js("return document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 1, 'the page is %s px wider than a 390 px screen' % wide
        driver.screenshot(os.path.join(a.artifacts, 'phone.png'))
        print('signed in, opened a room and posted by keyboard alone on a 390 px screen')

        # Revoked access closes the room view: the administrator disables the open room.
        assert driver.js(VISIBLE, 'room'), 'the room view is not open'
        ctl('room', 'set', '--identity', room, '--disabled', 'true')
        wait('the room view closed', lambda: not driver.js(VISIBLE, 'room'))
        print('the room view closed when access ended')
        print('PASS')
        return 0
    finally:
        if driver:
            driver.quit()
        if peer:
            peer.stop()
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(work, ignore_errors=True)


def _ready(driver):
    try:
        with urllib.request.urlopen(driver.base + '/status', timeout=2) as r:
            return json.loads(r.read())['value']['ready']
    except Exception:
        return False


if __name__ == '__main__':
    sys.exit(main())
