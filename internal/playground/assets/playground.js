// Starts GraphiQL with this server's example tabs. The page loads React,
// ReactDOM, GraphiQL's and graphql-ws's UMD builds (globals) before this script, and puts
// its settings in the JSON script element #playground-config.
(function () {
  'use strict';

  var root = document.getElementById('graphiql');
  if (!window.React || !window.ReactDOM || !window.GraphiQL) {
    root.textContent = 'The playground could not load its scripts from this server (' +
      document.currentScript.src.replace(/[^/]*$/, '') + '). Reload the page; if this persists, check the server log.';
    return;
  }
  var config = JSON.parse(document.getElementById('playground-config').textContent);
  var h = React.createElement;

  // GraphiQL keeps its state in localStorage under these keys. It fills the
  // editors of the first tab from "query" and "variables", not from
  // defaultTabs: on a first visit, put the first example there, or its
  // variables editor would be empty (and a reload would add a copy of the
  // tab without variables).
  var storage = window.localStorage;
  var key = function (name) { return 'graphiql:' + name; };
  if (config.tabs.length > 0 && !storage.getItem(key('tabState'))) {
    storage.setItem(key('query'), config.tabs[0].query);
    storage.setItem(key('variables'), config.tabs[0].variables || '');
  }

  // On the next visits GraphiQL reopens the tabs a developer left, not the
  // examples; the header's reset button brings the examples (including ones added
  // since) back. Query history is kept.
  function resetExampleTabs() {
    if (!window.confirm('Close every tab and reopen the example operations?')) {
      return;
    }
    ['tabState', 'query', 'variables', 'headers', 'operationName'].forEach(function (name) {
      storage.removeItem(key(name));
    });
    window.location.reload();
  }

  // Two stacked tabs with a circular arrow: "reopen the tabs".
  function examplesIcon() {
    return h('svg', {
      viewBox: '0 0 20 20', fill: 'none',
      stroke: 'currentColor', strokeWidth: 1.5, strokeLinecap: 'round', 'aria-hidden': 'true',
    },
    h('path', { d: 'M3 7V4.5A1.5 1.5 0 0 1 4.5 3H10' }),
    h('path', { d: 'M6 17.5h9.5A1.5 1.5 0 0 0 17 16V7.5A1.5 1.5 0 0 0 15.5 6H7.5A1.5 1.5 0 0 0 6 7.5V17.5Z' }),
    h('path', { d: 'M13.5 11.75a2.25 2.25 0 1 1-.66-1.59' }),
    h('path', { d: 'M13 8.9v1.5h-1.5' }));
  }

  // A button with its words on it (an icon alone in the toolbar said
  // nothing), in the header beside the tabs it resets. Its text is its
  // accessible name.
  var resetButton = h('button', {
    type: 'button',
    className: 'graphiql-un-styled playground-reset',
    title: 'Close every tab and reopen the example operations (query history is kept)',
    onClick: resetExampleTabs,
  }, examplesIcon(), 'Reset the example tabs');

  var logo = h(GraphiQL.Logo, null, resetButton,
    h('a', { className: 'graphiql-logo-link', href: 'https://github.com/graphql/graphiql', target: '_blank', rel: 'noreferrer' },
      'Graph', h('em', null, 'i'), 'QL'));

  // Subscriptions go over a WebSocket (graphql-transport-ws) to the same
  // endpoint. A browser cannot set a WebSocket's headers: the API key and
  // Intercom token of GraphiQL's headers editor go in connection_init,
  // read when the socket opens (lazily, at the first subscription).
  var lastHeaders = {};
  var wsURL = new URL(config.endpoint, window.location.href);
  wsURL.protocol = wsURL.protocol === 'https:' ? 'wss:' : 'ws:';
  var wsClient = window.graphqlWs && graphqlWs.createClient({
    url: wsURL.toString(),
    connectionParams: function () { return lastHeaders; },
  });
  var http = GraphiQL.createFetcher({ url: config.endpoint, wsClient: wsClient });
  var fetcher = function (params, opts) {
    lastHeaders = (opts && opts.headers) || {};
    return http(params, opts);
  };

  ReactDOM.createRoot(root).render(h(GraphiQL, {
    fetcher: fetcher,
    defaultTabs: config.tabs,
    defaultEditorToolsVisibility: 'variables',
    schemaDescription: true, // the schema's description opens the documentation explorer
    shouldPersistHeaders: false,
  }, logo));

  // Long lines wrap rather than run off the editor's edge: the examples'
  // comments and argument lists are wider than the query pane. GraphiQL
  // offers no option for it; its CodeMirror 5 editors do, on their elements.
  function wrapLongLines() {
    root.querySelectorAll('.CodeMirror').forEach(function (el) {
      if (el.CodeMirror && !el.CodeMirror.getOption('lineWrapping')) {
        el.CodeMirror.setOption('lineWrapping', true);
      }
    });
  }
  new MutationObserver(wrapLongLines).observe(root, { childList: true, subtree: true });
})();
