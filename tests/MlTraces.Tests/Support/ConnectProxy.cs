using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace MlTraces.Tests.Support
{
    /// <summary>
    /// A real HTTP proxy for HTTPS (the CONNECT method only): every tunnel, whatever host it names, goes to one local
    /// port, so a client given HTTPS_PROXY reaches a test server at a production host name (e.g.
    /// https://account.blob.core.windows.net) without DNS or /etc/hosts. The TLS inside is the client's and the
    /// server's own. Records each CONNECT's target. Stops, with every tunnel, when disposed.
    /// </summary>
    public sealed class ConnectProxy : IDisposable
    {
        private readonly TcpListener _listener = new TcpListener(IPAddress.Loopback, 0);
        private readonly int _target;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly ConcurrentQueue<string> _targets = new ConcurrentQueue<string>();

        public ConnectProxy(int targetPort)
        {
            _target = targetPort;
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _ = Task.Run(AcceptLoop);
        }

        public int Port { get; }

        /// <summary>The proxy URL, for HTTPS_PROXY.</summary>
        public string Url => "http://127.0.0.1:" + Port;

        /// <summary>The host:port of each CONNECT so far.</summary>
        public IReadOnlyCollection<string> Targets => _targets.ToArray();

        private async Task AcceptLoop()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try { client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false); }
                catch (Exception) { return; }
                _ = Task.Run(() => Serve(client));
            }
        }

        private async Task Serve(TcpClient client)
        {
            var token = _stop.Token;
            using (client)
            {
                try
                {
                    var fromClient = client.GetStream();
                    // The request head, a byte at a time: nothing after it (the TLS hello) may be read here.
                    var head = new StringBuilder();
                    var one = new byte[1];
                    while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
                    {
                        if (await fromClient.ReadAsync(one, token).ConfigureAwait(false) == 0 || head.Length > 8192) return;
                        head.Append((char)one[0]);
                    }
                    var line = head.ToString().Split("\r\n")[0].Split(' ');
                    if (line.Length != 3 || line[0] != "CONNECT")
                    {
                        await fromClient.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), token).ConfigureAwait(false);
                        return;
                    }
                    _targets.Enqueue(line[1]);
                    using var server = new TcpClient();
                    await server.ConnectAsync(IPAddress.Loopback, _target, token).ConfigureAwait(false);
                    await fromClient.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 Connection established\r\n\r\n"), token).ConfigureAwait(false);
                    var toServer = server.GetStream();
                    // Either side closing ends the tunnel (disposing both ends the other copy).
                    await Task.WhenAny(fromClient.CopyToAsync(toServer, token), toServer.CopyToAsync(fromClient, token)).ConfigureAwait(false);
                }
                catch (Exception) { }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
        }
    }
}
