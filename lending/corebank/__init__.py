"""The core-banking gateway (核心系统接口): the deposit accounts loans are paid into and repaid
from live in the bank's core system, reached through this interface. The sandbox core ships
with the project; a bank plugs in its own by configuration (``CORE_BANKING_GATEWAY``)."""
