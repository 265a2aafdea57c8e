using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;

namespace SandboxRunner.Host.Mcp;

/// <summary>
/// Stops the server when its client goes away. The MCP SDK notices the end of stdin only once no tool call
/// is in flight, so a client that disconnects during a blocking <c>run_codex_tasks</c> would leave the run
/// (and its containers) going until the process is killed. This watches stdin for a hang-up without
/// reading it (poll(2) with no events asked reports POLLHUP when the client's end is closed) and then stops
/// the host, whose shutdown cancels and tears down every run.
/// </summary>
internal sealed class ClientWatch(IHostApplicationLifetime lifetime) : IHostedService, IDisposable
{
    private const short PollHangUp = 0x010;
    private const short PollError = 0x008;
    private const short PollInvalid = 0x020;
    private readonly CancellationTokenSource _stop = new();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var thread = new Thread(Watch) { IsBackground = true, Name = "client-watch" };
        thread.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stop.Cancel();
        return Task.CompletedTask;
    }

    public void Dispose() => _stop.Dispose();

    private void Watch()
    {
        var fds = new PollFd[] { new() { Fd = 0, Events = 0 } };
        while (!_stop.IsCancellationRequested)
        {
            fds[0].Revents = 0;
            var ready = NativeMethods.poll(fds, 1, 1000);
            if (ready < 0)
            {
                return; // stdin cannot be watched here (not a pipe, say); the SDK's own end-of-input still applies
            }

            if (ready > 0 && (fds[0].Revents & (PollHangUp | PollError | PollInvalid)) != 0)
            {
                lifetime.StopApplication();
                return;
            }
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    private static class NativeMethods
    {
        [DllImport("libc", SetLastError = true)]
        public static extern int poll([In, Out] PollFd[] fds, nuint nfds, int timeout);
    }
}
