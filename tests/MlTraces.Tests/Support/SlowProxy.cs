using System;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace MlTraces.Tests.Support
{
    /// <summary>
    /// A real TCP proxy in front of a test server, to make the server slow. Connections are numbered as they come
    /// (0, 1, 2 ...) and a function of that number says what each gets: the server's answers after a delay per
    /// chunk; a stall (the request reaches the server, which may do the work, but its answer never comes back); or a
    /// black hole (nothing reaches the server, nothing comes back), as a hung server or a dropped route. Stops, with
    /// every connection it holds, when disposed.
    /// </summary>
    public sealed class SlowProxy : IDisposable
    {
        public enum Mode { Delay, Stall, BlackHole }

        private readonly TcpListener _listener = new TcpListener(IPAddress.Loopback, 0);
        private readonly int _target;
        private readonly TimeSpan _delay;
        private readonly Func<int, Mode> _mode;
        private readonly Func<string, bool>? _swallow;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private int _connections, _stalled;

        /// <param name="endpoint">The server's endpoint URL, or an Azure connection string with its BlobEndpoint.</param>
        /// <param name="swallow">Requests (by their first line, e.g. "DELETE /bucket/key HTTP/1.1") that never reach
        /// the server: the connection then forwards nothing more, and the client waits for an answer that never comes.</param>
        public SlowProxy(string endpoint, TimeSpan delay, Func<int, Mode> mode, Func<string, bool>? swallow = null)
        {
            _target = TargetPort(endpoint);
            _delay = delay;
            _mode = mode;
            _swallow = swallow;
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _ = Task.Run(AcceptLoop);
        }

        public int Port { get; }
        /// <summary>Connections accepted so far.</summary>
        public int Connections => Volatile.Read(ref _connections);
        /// <summary>Connections that stalled or were black holes.</summary>
        public int Stalled => Volatile.Read(ref _stalled);

        /// <summary>The endpoint URL or connection string, going through this proxy.</summary>
        public string Route(string endpoint) => endpoint.Replace("127.0.0.1:" + _target, "127.0.0.1:" + Port);

        private static int TargetPort(string endpoint)
        {
            foreach (var part in endpoint.Split(';'))
                if (part.StartsWith("BlobEndpoint=", StringComparison.Ordinal)) return new Uri(part.Substring("BlobEndpoint=".Length)).Port;
            return new Uri(endpoint).Port;
        }

        private async Task AcceptLoop()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try { client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false); }
                catch (Exception) { return; }
                var mode = _mode(Interlocked.Increment(ref _connections) - 1);
                if (mode != Mode.Delay) Interlocked.Increment(ref _stalled);
                _ = Task.Run(() => Serve(client, mode));
            }
        }

        private async Task Serve(TcpClient client, Mode mode)
        {
            var token = _stop.Token;
            using (client)
            {
                var fromClient = client.GetStream();
                if (mode == Mode.BlackHole) { await Drain(fromClient, token).ConfigureAwait(false); return; }
                using var server = new TcpClient();
                try { await server.ConnectAsync(IPAddress.Loopback, _target, token).ConfigureAwait(false); }
                catch (Exception) { return; }
                var toServer = server.GetStream();
                var up = Pump(fromClient, toServer, TimeSpan.Zero, token, _swallow);
                var down = mode == Mode.Stall ? Drain(toServer, token) : Pump(toServer, fromClient, _delay, token);
                // Either side closing ends the connection (disposing both ends the other copy); a stalled one only
                // when the client gives up (a server closing an idle connection must not end the stall).
                await (mode == Mode.Stall ? up : Task.WhenAny(up, down)).ConfigureAwait(false);
            }
        }

        private async Task Pump(NetworkStream from, NetworkStream to, TimeSpan delay, CancellationToken token, Func<string, bool>? swallow = null)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                int n;
                while ((n = await from.ReadAsync(buffer, token).ConfigureAwait(false)) > 0)
                {
                    // A client writes each request's head at once, so a request starts a read.
                    if (swallow != null && swallow(System.Text.Encoding.ASCII.GetString(buffer, 0, Math.Min(n, 200)).Split('\r')[0]))
                    {
                        Interlocked.Increment(ref _stalled);
                        await Drain(from, token).ConfigureAwait(false);
                        return;
                    }
                    if (delay > TimeSpan.Zero) await Task.Delay(delay, token).ConfigureAwait(false);
                    await to.WriteAsync(buffer.AsMemory(0, n), token).ConfigureAwait(false);
                }
            }
            catch (Exception) { }
        }

        /// <summary>Reads and drops everything until the other side closes.</summary>
        private static async Task Drain(NetworkStream from, CancellationToken token)
        {
            var buffer = new byte[64 * 1024];
            try { while (await from.ReadAsync(buffer, token).ConfigureAwait(false) > 0) { } }
            catch (Exception) { }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
        }
    }
}
