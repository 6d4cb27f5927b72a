using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MlTraces.Core;
using MlTraces.Core.Locations;
using MlTraces.Tests.Support;

namespace MlTraces.Tests.Locations
{
    /// <summary>S3 credentials from a shared credentials file (AWS_SHARED_CREDENTIALS_FILE) and the profile
    /// AWS_PROFILE names, as boto3 (MLflow) finds them.</summary>
    public class S3CredentialTests
    {
        [ObjectStoreFact]
        public void AProfileInTheSharedCredentialsFileIsUsedAndAWrongOneNeverShown()
        {
            using var place = TestLocation.Create(TestLocation.S3);
            string wrongSecret = "wrong-" + Guid.NewGuid().ToString("N");
            string file = Path.Combine(Path.GetTempPath(), "mltraces-aws-" + Guid.NewGuid().ToString("N"));
            File.WriteAllText(file,
                $"[mltraces-good]\naws_access_key_id = {ObjectStoreServers.S3AccessKey}\naws_secret_access_key = {ObjectStoreServers.S3SecretKey}\n\n" +
                $"[mltraces-bad]\naws_access_key_id = AKIAMLTRACESBADPROFILE\naws_secret_access_key = {wrongSecret}\n");
            try
            {
                ObjectStoreSettings Profile(string name) => new ObjectStoreSettings(n => n switch
                {
                    "MLFLOW_S3_ENDPOINT_URL" => ObjectStoreServers.S3Endpoint,
                    "AWS_PROFILE" => name,
                    "AWS_SHARED_CREDENTIALS_FILE" => file,
                    _ => null,
                });
                const string key = "0/traces/tr-1/artifacts/traces.pb";
                var good = ObjectLocations.Open(place.Uri, Profile("mltraces-good"));
                good.Write(key, new byte[] { 7 });
                Assert.Equal(new byte[] { 7 }, place.GetRaw(place.FullKey(key)));

                var bad = Assert.Throws<MlTracesException>(() => ObjectLocations.Open(place.Uri, Profile("mltraces-bad")).Read(key));
                Assert.Equal("ObjectStoreAccessDenied", bad.ErrorId);
                Assert.DoesNotContain(wrongSecret, bad.ToString());

                var missing = Assert.Throws<MlTracesException>(() => ObjectLocations.Open(place.Uri, Profile("mltraces-none")));
                Assert.Equal("ObjectStoreCredentialsMissing", missing.ErrorId);
                Assert.Contains("mltraces-none", missing.Message);
                Assert.Contains("AWS_ACCESS_KEY_ID", missing.Message);
            }
            finally
            {
                File.Delete(file);
            }
        }
    }
}
