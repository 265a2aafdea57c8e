using System.Diagnostics;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// The engine's backend, recording the boxes made through the seam (environments' setup and run-image boxes) into
/// the same <see cref="RecordingEngine"/> record as containers made through the engine, so a test's "nothing was
/// created" or "this box started" holds whichever way the runner made it. Every call still reaches Docker.
/// </summary>
internal sealed class RecordingBackend(ITaskBackend inner, RecordingEngine record) : ITaskBackend
{
    public string Name => inner.Name;

    public BackendCapabilities Capabilities => inner.Capabilities;

    public IBoxImages Images => inner.Images;

    public Task<BackendFacts> DescribeAsync(CancellationToken cancellationToken) => inner.DescribeAsync(cancellationToken);

    public Task<bool> SharesHostFilesAsync(string image, CancellationToken cancellationToken) => inner.SharesHostFilesAsync(image, cancellationToken);

    public Task<string?> ExposedApiAsync(CancellationToken cancellationToken) => inner.ExposedApiAsync(cancellationToken);

    public async Task<IRunSite> OpenRunSiteAsync(RunSiteSpec spec, CancellationToken cancellationToken) =>
        new Site(await inner.OpenRunSiteAsync(spec, cancellationToken), spec, record);

    public Task<int> RemoveRunAsync(BoxScope scope, string runId, CancellationToken cancellationToken) => inner.RemoveRunAsync(scope, runId, cancellationToken);

    public Task<int> RemoveOrphansAsync(BoxScope scope, CancellationToken cancellationToken) => inner.RemoveOrphansAsync(scope, cancellationToken);

    public Task<IReadOnlyList<BoxRef>> FindBoxesAsync(BoxScope scope, string? runId, CancellationToken cancellationToken) => inner.FindBoxesAsync(scope, runId, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private sealed class Site(IRunSite inner, RunSiteSpec spec, RecordingEngine record) : IRunSite
    {
        public NetworkIntent Network => inner.Network;

        public EgressEndpoints? Egress => inner.Egress;

        public string? TeardownError => inner.TeardownError;

        public async Task<ITaskBox> CreateBoxAsync(BoxSpec box, CancellationToken cancellationToken)
        {
            var created = await inner.CreateBoxAsync(box, cancellationToken);
            if (spec.RunId is null)
            {
                // A box of no run (the doctor's probe): the record is of runs' containers, each with its run label.
                return created;
            }

            record.Specs[created.Id] = ContainerSpec.ForBox(box, Labels.For(spec.Scope, spec.RunId, box.Identity), spec.Network == NetworkIntent.Open ? "bridge" : "none");
            return new Box(created, record);
        }

        public Task<IReadOnlyList<string>> RefusedHostsAsync(ITaskBox box, DateTimeOffset since, CancellationToken cancellationToken) =>
            inner.RefusedHostsAsync(box is Box recorded ? recorded.Inner : box, since, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private sealed class Box(ITaskBox inner, RecordingEngine record) : ITaskBox
    {
        public ITaskBox Inner => inner;

        public string Id => inner.Id;

        public string? Node => inner.Node;

        public Task<BoxExit> RunAsync(
            TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> onOutput, Action? onStarted, CancellationToken limitStop, CancellationToken cancellationToken) =>
            inner.RunAsync(timeout, onOutput, () =>
            {
                record.Started[Id] = Stopwatch.GetElapsedTime(0);
                onStarted?.Invoke();
            }, limitStop, cancellationToken);

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            await inner.StartAsync(cancellationToken);
            record.Started[Id] = Stopwatch.GetElapsedTime(0);
        }

        public Task<long?> ExecAsync(BoxCommand command, Action<LogStream, ReadOnlySpan<byte>> onOutput, CancellationToken cancellationToken) =>
            inner.ExecAsync(command, onOutput, cancellationToken);

        public Task KillAsync(CancellationToken cancellationToken) => inner.KillAsync(cancellationToken);

        public Task<byte[]?> ReadFileAsync(string path, long maxBytes, CancellationToken cancellationToken) => inner.ReadFileAsync(path, maxBytes, cancellationToken);

        public Task PutArchiveAsync(string path, Func<Stream, CancellationToken, Task> writeTar, CancellationToken cancellationToken) =>
            inner.PutArchiveAsync(path, writeTar, cancellationToken);

        public Task<T> GetArchiveAsync<T>(string path, Func<Stream, CancellationToken, Task<T>> readTar, CancellationToken cancellationToken) =>
            inner.GetArchiveAsync(path, readTar, cancellationToken);

        public Task<long?> WrittenBytesAsync(CancellationToken cancellationToken) => inner.WrittenBytesAsync(cancellationToken);

        public Task<IReadOnlyList<PathChange>?> ChangesAsync(int maxEntries, CancellationToken cancellationToken) => inner.ChangesAsync(maxEntries, cancellationToken);

        public Task<string> CommitAsync(ImageCommit commit, CancellationToken cancellationToken) => inner.CommitAsync(commit, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            record.Removed.Enqueue(Id);
        }
    }
}
