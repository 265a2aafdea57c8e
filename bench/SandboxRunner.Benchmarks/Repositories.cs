using System.Diagnostics;
using System.Globalization;
using System.Text;
using SandboxRunner.Platform;

namespace SandboxRunner.Benchmarks;

internal static class Repositories
{
    public const string CachedLargePath = "/tmp/sr-bench-50k";
    public const int LargeDirectories = 500;
    public const int LargeFilesPerDirectory = 100;
    public const int LargeFileBytes = 200;
    private const string ReadyMarker = "sr-bench-ready";

    /// <summary>A repository with a handful of files (five, plus <paramref name="extraFiles"/>) in one commit, like the integration tests use.</summary>
    public static async Task<string> CreateSmallAsync(string path, CancellationToken cancellationToken, int extraFiles = 0)
    {
        await InitAsync(path, cancellationToken);
        Write(path, "README.md", "# Benchmark repo\n");
        Write(path, "src/app.txt", "line 1\nline 2\n");
        Write(path, "src/util.txt", "helper\n");
        Write(path, "docs/notes.txt", "notes\n");
        await File.WriteAllBytesAsync(Path.Combine(path, "src", "data.bin"), [.. Enumerable.Range(0, 512).Select(i => (byte)(i * 7 % 256))], cancellationToken);
        for (var i = 0; i < extraFiles; i++)
        {
            Write(path, string.Create(CultureInfo.InvariantCulture, $"src/lib/module{i:D2}.txt"), $"module {i}\n");
        }

        await Shell.GitAsync(path, cancellationToken, "add", "-A");
        await Shell.GitAsync(path, cancellationToken, "commit", "-qm", "initial");
        return path;
    }

    /// <summary>
    /// The 50,000-file repository (500 directories of 100 files of 200 bytes, one commit, one pack), made
    /// once with <c>git fast-import</c> and reused from <see cref="CachedLargePath"/> afterwards.
    /// </summary>
    public static Task<string> EnsureLargeAsync(CancellationToken cancellationToken) =>
        EnsureAsync(LargeDirectories * LargeFilesPerDirectory, cancellationToken);

    /// <summary>
    /// A repository of <paramref name="files"/> files of 200 bytes (100 to a directory, one commit, one pack), made once with
    /// <c>git fast-import</c> and cached in <c>/tmp/sr-bench-50k</c> (50,000 files) or <c>/tmp/sr-bench-files-N</c>.
    /// </summary>
    public static async Task<string> EnsureAsync(int files, CancellationToken cancellationToken)
    {
        var cached = files == LargeDirectories * LargeFilesPerDirectory
            ? CachedLargePath
            : string.Create(CultureInfo.InvariantCulture, $"/tmp/sr-bench-files-{files}");
        var marker = Path.Combine(cached, ".git", ReadyMarker);
        if (File.Exists(marker))
        {
            Console.WriteLine($"using the cached {files}-file repository at {cached}");
            return cached;
        }

        TreeDeletion.Delete(cached);
        var building = $"{cached}.building-{Guid.NewGuid():N}";
        try
        {
            var started = Stopwatch.GetTimestamp();
            Directory.CreateDirectory(building);
            await Shell.GitAsync(building, cancellationToken, "init", "-q", "-b", "main");
            await Shell.GitAsync(building, cancellationToken, "config", "gc.auto", "0");
            await Shell.RunAsync("git", ["-C", building, "fast-import", "--quiet"], cancellationToken, writeStdin: stdin => WriteFastImportStreamAsync(stdin, files));
            await Shell.GitAsync(building, cancellationToken, "reset", "-q", "--hard", "main");
            await File.WriteAllTextAsync(
                Path.Combine(building, ".git", ReadyMarker),
                $"{files} files\n",
                cancellationToken);
            Directory.Move(building, cached);
            Console.WriteLine($"generated {cached} in {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s");
            return cached;
        }
        finally
        {
            TreeDeletion.Delete(building);
        }
    }

    private static async Task WriteFastImportStreamAsync(Stream stdin, int files)
    {
        // Not disposed here: the caller closes git's stdin, which ends the stream.
        var output = new BufferedStream(stdin, 1 << 20);
        await WriteAsync(output, "commit refs/heads/main\ncommitter Bench <bench@example.invalid> 1700000000 +0000\ndata 15\nsynthetic tree\n");
        var body = new StringBuilder(LargeFileBytes + 64);
        for (var d = 0; d * LargeFilesPerDirectory < files; d++)
        {
            for (var f = 0; f < LargeFilesPerDirectory && (d * LargeFilesPerDirectory) + f < files; f++)
            {
                var path = string.Create(CultureInfo.InvariantCulture, $"d{d:D3}/f{f:D3}.txt");
                body.Clear();
                for (var line = 0; body.Length < LargeFileBytes; line++)
                {
                    body.Append(CultureInfo.InvariantCulture, $"{path} line {line} of synthetic file {(d * LargeFilesPerDirectory) + f}\n");
                }

                var content = Encoding.ASCII.GetBytes(body.ToString(0, LargeFileBytes - 1) + "\n");
                await WriteAsync(output, $"M 100644 inline {path}\ndata {content.Length}\n");
                await output.WriteAsync(content);
                await WriteAsync(output, "\n");
            }
        }

        await WriteAsync(output, "\n");
        await output.FlushAsync();
    }

    internal static async Task InitAsync(string path, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(path);
        await Shell.GitAsync(path, cancellationToken, "init", "-q", "-b", "main");
        await Shell.GitAsync(path, cancellationToken, "config", "user.name", "Bench");
        await Shell.GitAsync(path, cancellationToken, "config", "user.email", "bench@example.invalid");
    }

    private static async Task WriteAsync(Stream stream, string text) => await stream.WriteAsync(Encoding.ASCII.GetBytes(text));

    internal static void Write(string root, string relative, string content)
    {
        var full = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
    }
}
